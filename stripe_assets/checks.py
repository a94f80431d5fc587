"""Asset checks for every table in `tables.py`, run against the warehouse through dlt's
`sql_client` (so they work on any SQL destination).

Per table: `unique_key` (primary key unique), `no_null_keys` (key columns and `created` never
null); per child table: `parent_exists` (no row whose parent is missing). (The `readable`
check comes with each load: see `assets.py`.)
"""

import tempfile
from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    multi_asset_check,
)
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from stripe_assets.assets import asset_key
from stripe_assets.selection import selected_tables
from stripe_assets.settings import WAREHOUSE_STEP_TAG, pool_name
from stripe_assets.tables import TABLES, TABLES_BY_NAME, StripeTable
from stripe_assets.warehouse import build_pipeline

UNIQUE_KEY = "unique_key"
NO_NULL_KEYS = "no_null_keys"
PARENT_EXISTS = "parent_exists"


def not_null_columns(table: StripeTable) -> list[str]:
    created = table.created_field
    return [*table.primary_key, *([created] if created in table.columns else [])]


def _specs() -> list[AssetCheckSpec]:
    specs = []
    chosen = {t.name for t in selected_tables()}
    for table in selected_tables():
        key = asset_key(table.name)
        specs.append(
            AssetCheckSpec(
                UNIQUE_KEY, asset=key, description=f"({', '.join(table.primary_key)}) is unique."
            )
        )
        specs.append(
            AssetCheckSpec(
                NO_NULL_KEYS,
                asset=key,
                description=f"No null {', '.join(not_null_columns(table))}.",
            )
        )
        if table.child and table.child.parent in chosen:
            specs.append(
                AssetCheckSpec(
                    PARENT_EXISTS,
                    asset=key,
                    additional_deps=[asset_key(table.child.parent)],
                    description=f"Every row's {table.child.parent_column} is a loaded "
                    f"{table.child.parent} id.",
                )
            )
    return specs


def check_queries(table: StripeTable, name: str, qualify: dict[str, str]) -> str:
    """SQL returning one count: the number of offending keys or rows."""
    t = qualify[table.name]
    pk = ", ".join(table.primary_key)
    if name == UNIQUE_KEY:
        return f"select count(*) from (select {pk} from {t} group by {pk} having count(*) > 1) d"
    if name == NO_NULL_KEYS:
        nulls = " or ".join(f"{c} is null" for c in not_null_columns(table))
        return f"select count(*) from {t} where {nulls}"
    assert table.child is not None
    parent = qualify[table.child.parent]
    return (
        f"select count(*) from {t} c where not exists "
        f"(select 1 from {parent} p where p.id = c.{table.child.parent_column})"
    )


def _result(key: AssetCheckKey, offending: int, note: str | None = None) -> AssetCheckResult:
    table = TABLES_BY_NAME[key.asset_key.path[-1]]
    severity = AssetCheckSeverity.WARN if key.name == PARENT_EXISTS else AssetCheckSeverity.ERROR
    unit = "duplicated keys" if key.name == UNIQUE_KEY else "rows"
    return AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=offending == 0,
        severity=severity,
        metadata={f"offending_{unit.replace(' ', '_')}": offending},
        description=note or f"{offending} {unit} fail the check in {table.name}.",
    )


@multi_asset_check(
    name="stripe_table_checks",
    specs=_specs(),
    can_subset=True,
    pool=pool_name(),
    op_tags={WAREHOUSE_STEP_TAG: "read"},
    description="Key uniqueness, null keys and orphaned children, queried in the warehouse.",
)
def stripe_table_checks(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
    with tempfile.TemporaryDirectory(prefix="stripe-assets-checks-") as pipelines_dir:
        pipeline = build_pipeline(pipelines_dir)
        with pipeline.sql_client() as client:
            qualify = {t.name: client.make_qualified_table_name(t.name) for t in TABLES}
            for key in sorted(context.selected_asset_check_keys, key=str):
                table = TABLES_BY_NAME[key.asset_key.path[-1]]
                sql = check_queries(table, key.name, qualify)
                try:
                    rows = client.execute_sql(sql)
                except DatabaseUndefinedRelation:
                    if not _exists(client, qualify[table.name]):
                        # dlt creates a table with its first row: Stripe listed none yet
                        yield _result(key, 0, f"No {table.name} loaded yet: nothing to check.")
                        continue
                    # the parent table is missing: every row is an orphan
                    rows = client.execute_sql(f"select count(*) from {qualify[table.name]}")
                yield _result(key, int(rows[0][0]))


def _exists(client: Any, qualified: str) -> bool:
    try:
        client.execute_sql(f"select 1 from {qualified} limit 0")
    except DatabaseUndefinedRelation:
        return False
    return True
