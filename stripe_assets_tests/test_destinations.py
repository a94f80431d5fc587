"""Any dlt destination by configuration alone: the same assets load PostgreSQL."""

from __future__ import annotations

import psycopg2

from stripe_assets_tests.conftest import (
    DAILY,
    day_window,
    postgres_counts,
    run_partitions,
)


def test_postgres_destination_by_configuration_only(sandbox, instance, postgres_url, monkeypatch):
    monkeypatch.setenv("STRIPE_API_BASE", sandbox.base_url)
    monkeypatch.setenv("STRIPE_API_KEY", sandbox.api_key)
    monkeypatch.setenv("STRIPE_DESTINATION", "postgres")
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_url)

    assert run_partitions(instance, "2024-05-08").success
    assert run_partitions(instance, "2024-05-08").success  # merge: no duplicates

    truth = sandbox.counts(*day_window("2024-05-08"))
    loaded = postgres_counts(postgres_url)
    with psycopg2.connect(postgres_url) as con, con.cursor() as cur:
        cur.execute(
            "select data_type from information_schema.columns "
            "where table_schema = 'stripe' and table_name = 'charges' and column_name = 'created'"
        )
        created_type = cur.fetchone()[0]
    assert loaded == {t.name: truth[t.name] for t in DAILY}
    assert created_type == "timestamp with time zone"
