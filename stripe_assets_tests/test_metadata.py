"""The table's name and declared columns as the Dagster UI shows them, from configuration
alone (no warehouse connection). Loaded metadata is checked in test_pipeline's range run."""

from __future__ import annotations

import pytest

from stripe_assets.metadata import UNKNOWN_TYPE, declared_schema, qualified_table_name
from stripe_assets_tests.conftest import DAILY

DLT_TYPES = {"text", "bigint", "double", "bool", "timestamp", "date", "json", "decimal"}


@pytest.mark.parametrize(
    ("path", "database"),
    [
        # dbt-duckdb names the catalog after the file's first non-empty dot-separated part
        ("stripe_warehouse.duckdb", "stripe_warehouse"),
        ("/data/warehouses/prod.v2.duckdb", "prod"),
        (".hidden.duckdb", "hidden"),
        (":memory:", "memory"),
    ],
)
def test_duckdb_table_name_is_dbt_duckdbs_relation(monkeypatch, path, database):
    monkeypatch.delenv("STRIPE_DESTINATION", raising=False)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", path)
    assert qualified_table_name("charges") == f"{database}.stripe.charges"


def test_postgres_table_name_is_database_schema_table(monkeypatch):
    monkeypatch.setenv("STRIPE_DESTINATION", "postgres")
    monkeypatch.setenv(
        "DESTINATION__POSTGRES__CREDENTIALS",
        "postgresql://loader:secret@db.internal:5432/analytics",
    )
    assert qualified_table_name("invoices") == "analytics.stripe.invoices"
    monkeypatch.delenv("DESTINATION__POSTGRES__CREDENTIALS")
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS__DATABASE", "warehouse")
    assert qualified_table_name("invoices") == "warehouse.stripe.invoices"


def test_declared_columns_are_typed_as_dlt_types_them():
    for table in DAILY:
        columns = {c.name: c.type for c in declared_schema(table).columns}
        for key in table.primary_key:
            assert columns[key] == "text", (table.name, key)
        if table.child:
            assert columns[table.child.parent_column] == "text"
        for name, hint in table.columns.items():
            assert columns[name] == hint["data_type"], (table.name, name)
        assert set(columns.values()) <= DLT_TYPES | {UNKNOWN_TYPE}, table.name
        assert set(table.column_descriptions) <= set(columns), table.name
