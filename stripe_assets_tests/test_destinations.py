"""Any dlt destination by configuration alone: the same assets load PostgreSQL."""

from __future__ import annotations

import psycopg2

from stripe_assets.tables import TABLES
from stripe_assets_tests.conftest import day_window, run_partitions


def test_postgres_destination_by_configuration_only(sandbox, instance, postgres_url, monkeypatch):
    monkeypatch.setenv("STRIPE_API_BASE", sandbox.base_url)
    monkeypatch.setenv("STRIPE_API_KEY", sandbox.api_key)
    monkeypatch.setenv("STRIPE_DESTINATION", "postgres")
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_url)

    assert run_partitions(instance, "2024-05-08").success
    assert run_partitions(instance, "2024-05-08").success  # merge: no duplicates

    truth = sandbox.counts(*day_window("2024-05-08"))
    with psycopg2.connect(postgres_url) as con, con.cursor() as cur:
        loaded = {}
        for table in TABLES:  # a table with no rows yet is not created
            cur.execute("select to_regclass(%s)", (f"stripe.{table.name}",))
            if cur.fetchone()[0] is None:
                loaded[table.name] = 0
                continue
            cur.execute(f"select count(*) from stripe.{table.name}")
            loaded[table.name] = cur.fetchone()[0]
        cur.execute(
            "select data_type from information_schema.columns "
            "where table_schema = 'stripe' and table_name = 'charges' and column_name = 'created'"
        )
        created_type = cur.fetchone()[0]
    assert loaded == {t.name: truth[t.name] for t in TABLES}
    assert created_type == "timestamp with time zone"
