"""Every loaded row equals the sandbox's object field by field, for every table of the
registry: timestamps as the same instant, money as integers, nested objects as JSON, child
rows with their parent's id. The objects are read with the test client, independently of the
loader."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import duckdb

from stripe_assets.settings import StripeSettings
from stripe_assets.source import CreatedWindow
from stripe_assets.tables import TABLES, StripeTable, embedded_fields_of
from stripe_assets_tests.conftest import day_window, load_window
from stripe_assets_tests.sandbox_fixtures import Client

DLT_COLUMNS = ("_dlt_load_id", "_dlt_id")


def expected_objects(c: Client, gte: int, lt: int) -> dict[str, list[dict[str, Any]]]:
    """Per table, the objects Stripe lists for the window (children tagged with their
    parent's id), as the API returns them."""
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in TABLES:
        if entry.child is None:
            listed = c.walk(entry.path, dict(entry.params))
            created = entry.created_field
            out[entry.name] = (
                listed  # a catalog snapshot: the whole list
                if entry.snapshot
                else [o for o in listed if gte <= o[created] < lt]
            )
    for entry in TABLES:
        link = entry.child
        if link is None:
            continue
        rows = []
        for parent in out[link.parent]:
            if not link.applies_to(parent):
                continue
            params = {k: v.replace("{id}", parent["id"]) for k, v in link.params.items()}
            for child in c.walk(link.path.replace("{id}", parent["id"]), params):
                rows.append({**child, link.parent_column: parent["id"]})
        out[entry.name] = rows
    return out


def _as_loaded(entry: StripeTable, column: str, value: Any, expected: Any) -> Any:
    """The warehouse value in the API's terms (timestamps -> Unix seconds, JSON -> objects)."""
    hint = entry.columns.get(column, {})
    if isinstance(value, datetime):
        assert hint.get("data_type") == "timestamp", (entry.name, column)
        return int(value.astimezone(UTC).timestamp())
    if isinstance(expected, dict | list) and isinstance(value, str):
        return json.loads(value)
    return value


def test_every_loaded_row_equals_the_sandbox_object(sandbox, busy_day, tmp_path):
    gte, lt = day_window(busy_day)
    settings = StripeSettings.resolve(api_key=sandbox.api_key, api_base=sandbox.base_url)
    db = tmp_path / "rows.duckdb"
    load_window(db, CreatedWindow(gte, lt), settings)
    c = Client(sandbox.base_url, sandbox.api_key)
    expected = expected_objects(c, gte, lt)
    c.close()
    with duckdb.connect(str(db), read_only=True) as con:
        for entry in TABLES:
            if not expected[entry.name]:  # nothing to load (the events feed of this sandbox)
                continue
            cursor = con.execute(f"select * from stripe.{entry.name}")
            columns = [d[0] for d in cursor.description]
            loaded = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            types = dict(
                con.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = 'stripe' and table_name = ?",
                    [entry.name],
                ).fetchall()
            )
            _compare(entry, expected[entry.name], loaded, types)


def _compare(
    entry: StripeTable,
    objects: list[dict[str, Any]],
    loaded: list[dict[str, Any]],
    types: dict[str, str],
) -> None:
    key = entry.primary_key
    by_key = {tuple(o[k] for k in key): o for o in objects}
    assert len(by_key) == len(objects) == len(loaded) > 0, entry.name
    dropped = set(embedded_fields_of(entry.name))
    for row in loaded:
        obj = by_key[tuple(row[k] for k in key)]
        for column, value in row.items():
            if column in DLT_COLUMNS:
                continue
            if column not in obj:  # a field other objects of the table have
                assert value is None, (entry.name, column, value)
                continue
            got = _as_loaded(entry, column, value, obj[column])
            assert got == obj[column], (entry.name, row[key[-1]], column, got, obj[column])
        for field, value in obj.items():
            if field in dropped:
                assert field not in row, (entry.name, field)
            elif value is not None:
                assert field in row, (entry.name, field, "missing in the warehouse")
        for money in ("amount", "fee", "net", "total", "amount_due"):
            if money in entry.columns:
                assert types[money] == "BIGINT", (entry.name, money, types[money])
