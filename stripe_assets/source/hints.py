"""How each table merges into the warehouse (dlt write hints), shared by the tables' loads
and the deletion stubs."""

from __future__ import annotations

from typing import Any

from stripe_assets.tables import StripeTable

MERGE = {"disposition": "merge", "strategy": "delete-insert"}


def merge_hints(table: StripeTable) -> dict[str, Any]:
    """A top-level table merges on its primary key (`id`): a reloaded object replaces its row.
    A catalog snapshot replaces the table.

    A child table merges on its parent's id (`merge_key`) alone: a reloaded parent's children
    replace all its old ones, so a removed line or item disappears. Its key columns are
    explicitly not dlt primary keys: with both, dlt deletes `WHERE EXISTS (... pk match OR
    parent match)`, which DuckDB (and Postgres) can only evaluate by comparing every child of
    a parent with every staged child of it: re-merging 20,000 transactions of one payout took
    10 s, 60,000 took 100 s. Uniqueness of the key is checked after each load instead (asset
    check `unique_key`); a run reads each parent once, so its children arrive once.
    """
    key = {"data_type": "text", "nullable": False}
    if table.snapshot:  # each run reads the whole list: what Stripe no longer lists leaves
        return {
            "primary_key": list(table.primary_key),
            "write_disposition": "replace",
            "columns": {**{name: dict(key) for name in table.primary_key}, **table.columns},
        }
    if not table.child:
        return {
            "primary_key": list(table.primary_key),
            "write_disposition": MERGE,
            "columns": {**{name: dict(key) for name in table.primary_key}, **table.columns},
        }
    parent = table.child.parent_column
    not_primary = {**key, "primary_key": False}
    return {
        "merge_key": parent,
        "write_disposition": MERGE,
        "columns": {
            **{name: dict(not_primary) for name in dict.fromkeys((*table.primary_key, parent))},
            **table.columns,
        },
    }
