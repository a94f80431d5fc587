"""Converted pages as dlt items: Arrow tables hinted `json` on their nested columns."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from typing import Any

import dlt
import pyarrow as pa


def batch_item(json_columns: Collection[str], tables: Iterable[pa.Table | None]) -> Any:
    """Page tables as one dlt item, hinted `json` on its nested columns (or None if empty)."""
    tables = [t for t in tables if t is not None and t.num_rows]
    if not tables:
        return None
    batch = tables[0] if len(tables) == 1 else concat(tables)
    nested = set(json_columns).intersection(batch.column_names)
    if not nested:
        return batch
    hints = {name: {"data_type": "json"} for name in sorted(nested)}
    return dlt.mark.with_hints(batch, dlt.mark.make_hints(columns=hints))


def concat(tables: Iterable[pa.Table]) -> pa.Table:
    """Concatenate page tables whose columns differ (missing columns become nulls)."""
    return pa.concat_tables(tables, promote_options="permissive")


class _QuietJsonHints(logging.Filter):
    """dlt warns on every Arrow item whose text column the resource hints as `json`: that is
    this module's design (JSON text typed `json`), so the warning is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "when merging arrow schema with dlt schema" not in record.getMessage()


def quiet_json_hint_warnings() -> None:
    """Install the filter once on dlt's logger (called when a source is built)."""
    dlt_logger = logging.getLogger("dlt")
    if not any(isinstance(f, _QuietJsonHints) for f in dlt_logger.filters):
        dlt_logger.addFilter(_QuietJsonHints())
