"""Stripe pages as Arrow tables, so dlt writes parquet at extraction and skips per-row
normalization (the CPU path). The warehouse schema stays what dlt infers from JSON rows:

- timestamp hints (Unix seconds) become `timestamp[us, UTC]` (timestamptz);
- bigint hints become int64; other scalars keep Arrow's inferred type (int64, double, bool,
  string);
- nested values (objects, lists) become JSON strings in a column hinted `json`;
- all-null columns are left out, as dlt does for JSON rows;
- a column mixing scalar types (which dlt would split into variant columns) is stored as JSON
  text rather than failing the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import dlt
import orjson
import pyarrow as pa

from stripe_assets.source.cpu import page_work
from stripe_assets.tables import StripeTable

Row = dict[str, Any]

TIMESTAMP = pa.timestamp("us", tz="UTC")
_SECONDS = pa.timestamp("s", tz="UTC")
_NESTED = frozenset((dict, list))
_NONE = type(None)
# A column of one Python type gets its Arrow type directly (no inference pass).
_ARROW_TYPE = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}


def _json_text(values: Sequence[Any]) -> pa.Array:
    dumps = orjson.dumps
    return pa.array([None if v is None else dumps(v) for v in values], pa.binary()).cast(
        pa.string()
    )


def _timestamps(values: Sequence[Any]) -> pa.Array:
    return pa.array(values, _SECONDS).cast(TIMESTAMP)


def _columns(rows: list[Row]) -> Iterable[tuple[str, Sequence[Any]]]:
    """(name, values) per column. Objects of one type share their keys in one order, so the
    page is transposed at C speed; a page whose rows differ takes the per-key path."""
    if len(set(map(tuple, rows))) == 1:
        return zip(rows[0], zip(*map(dict.values, rows), strict=True), strict=True)
    names = dict.fromkeys(chain.from_iterable(rows))
    return ((name, [row.get(name) for row in rows]) for name in names)


class ArrowPages:
    """Turns one table's pages into Arrow tables; remembers which columns hold JSON.

    Thread-safe: several page walkers of one table may share it.
    """

    def __init__(self, table: StripeTable, drop: Sequence[str] = ()) -> None:
        self.table = table
        self.drop = frozenset(drop)
        self.primary_key = frozenset(table.primary_key)
        self.kinds = {name: column.get("data_type") for name, column in table.columns.items()}
        self.json_columns: set[str] = set()
        self._lock = threading.Lock()

    def column(self, name: str, values: Sequence[Any]) -> tuple[pa.Array | None, bool]:
        """One column's Arrow array (None when all null) and whether it holds JSON text."""
        if name in self.json_columns:
            return _json_text(values), True
        kind = self.kinds.get(name)
        try:
            if kind == "timestamp":
                return _timestamps(values), False
            if kind == "bigint":
                return pa.array(values, pa.int64()), False
            types = set(map(type, values))
            types.discard(_NONE)
            if not types:
                return None, False
            if not types.isdisjoint(_NESTED):
                return _json_text(values), True
            arrow_type = _ARROW_TYPE.get(types.pop()) if len(types) == 1 else None
            return pa.array(values, arrow_type), False
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            return _json_text(values), True

    def convert(self, rows: list[Row]) -> pa.Table:
        """The page as an Arrow table (JSON columns are remembered in `json_columns`)."""
        with page_work:
            return self._convert(rows)

    def _convert(self, rows: list[Row]) -> pa.Table:
        fields, arrays, json_here = [], [], set()
        for name, values in _columns(rows) if rows else ():
            if name in self.drop:
                continue
            array, is_json = self.column(name, values)
            if array is None:
                continue
            if is_json:
                json_here.add(name)
            fields.append(pa.field(name, array.type, nullable=name not in self.primary_key))
            arrays.append(array)
        if not json_here <= self.json_columns:
            with self._lock:
                self.json_columns |= json_here
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def batch_item(pages: ArrowPages, tables: list[pa.Table]) -> Any:
    """Page tables as one dlt item, hinted `json` on its nested columns (or None if empty)."""
    tables = [t for t in tables if t is not None and t.num_rows]
    if not tables:
        return None
    batch = tables[0] if len(tables) == 1 else concat(tables)
    nested = pages.json_columns.intersection(batch.column_names)
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
