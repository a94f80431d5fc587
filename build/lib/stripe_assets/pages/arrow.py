"""Stripe rows as Arrow tables, so dlt writes parquet at extraction and skips per-row
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

from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import orjson
import pyarrow as pa

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
    """Turns one table's rows into Arrow tables; remembers which columns hold JSON, so a
    column once seen nested stays JSON text on later pages. One per table per process
    (page work is single-threaded: see `pool.py`)."""

    def __init__(self, table: StripeTable, drop: Sequence[str] = ()) -> None:
        self.table = table
        self.drop = frozenset(drop)
        self.primary_key = frozenset(table.primary_key)
        self.kinds = {name: column.get("data_type") for name, column in table.columns.items()}
        self.json_columns: set[str] = set()

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
        """The rows as an Arrow table (JSON columns are remembered in `json_columns`)."""
        fields, arrays = [], []
        for name, values in _columns(rows) if rows else ():
            if name in self.drop:
                continue
            array, is_json = self.column(name, values)
            if array is None:
                continue
            if is_json:
                self.json_columns.add(name)
            fields.append(pa.field(name, array.type, nullable=name not in self.primary_key))
            arrays.append(array)
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
