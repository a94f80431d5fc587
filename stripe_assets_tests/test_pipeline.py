"""The end-to-end slice: Stripe sandbox over HTTP -> dlt source -> Dagster assets -> DuckDB."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import requests
from dagster import AssetKey

from stripe_assets.assets import stripe_tables
from stripe_assets.metadata import qualified_table_name
from stripe_assets.tables import TABLES
from stripe_assets_tests.conftest import day_window, run_partitions

PARENT_TABLES = [t.name for t in TABLES if not t.is_child]


def _ids_are_unique(warehouse, table: str, key: str = "id") -> bool:
    total, distinct = warehouse.query(
        f"select count(*), count(distinct ({key})) from stripe.{table}"
    )[0]
    return total == distinct


def test_partition_rows_equal_ground_truth(sandbox, stripe_env, instance):
    result = run_partitions(instance, "2024-05-03")
    assert result.success
    truth = sandbox.counts(*day_window("2024-05-03"))
    assert stripe_env.counts() == {t.name: truth[t.name] for t in TABLES}
    assert all(truth[t.name] > 0 for t in TABLES), "the sandbox day should exercise every table"
    gte, lt = day_window("2024-05-03")
    for table in PARENT_TABLES:
        outside = stripe_env.query(
            f"select count(*) from stripe.{table} "
            f"where created < to_timestamp({gte}) or created >= to_timestamp({lt})"
        )[0][0]
        assert outside == 0, table


def test_rerunning_a_partition_changes_no_count(sandbox, stripe_env, instance):
    run_partitions(instance, "2024-05-02")
    first = stripe_env.counts()
    run_partitions(instance, "2024-05-02")
    assert stripe_env.counts() == first
    assert _ids_are_unique(stripe_env, "charges")
    assert _ids_are_unique(stripe_env, "invoice_line_items", "invoice, id")
    assert _ids_are_unique(stripe_env, "payout_transactions", "payout_id, id")


def test_older_partition_after_newer_loads_fully(sandbox, stripe_env, instance):
    run_partitions(instance, "2024-05-06")
    run_partitions(instance, "2024-05-04")
    newer = sandbox.counts(*day_window("2024-05-06"))
    older = sandbox.counts(*day_window("2024-05-04"))
    assert stripe_env.counts() == {t.name: newer[t.name] + older[t.name] for t in TABLES}


def test_single_run_backfill_of_a_range(sandbox, stripe_env, instance):
    """One run over three days: every partition is materialized with its own day's rows (the
    sandbox's per-day ground truth), the table's name and typed columns agree with the
    definition, and the load's job list stays out of the materializations."""
    days = ["2024-05-01", "2024-05-02", "2024-05-03"]
    result = run_partitions(instance, days[0], days[-1])
    assert result.success
    truth = sandbox.counts(*day_window(days[0], days=3))
    assert stripe_env.counts() == {t.name: truth[t.name] for t in TABLES}
    per_day = {day: sandbox.counts(*day_window(day)) for day in days}
    specs = {spec.key: spec for spec in stripe_tables.specs}
    events = result.asset_materializations_for_node("stripe")
    assert len(events) == len(TABLES) * len(days)
    for event in events:
        table, meta = event.asset_key.path[-1], event.metadata
        assert meta["dagster/partition_row_count"].value == per_day[event.partition][table]
        assert meta["dagster/row_count"].value == truth[table]
        assert meta["window_start"].value == f"{event.partition}T00:00:00+00:00"
        spec_meta = specs[event.asset_key].metadata
        assert "warehouse" in spec_meta and "query" in spec_meta
        # the definition's name was computed on import, with the default DuckDB file
        assert meta["dagster/table_name"].value == qualified_table_name(table)
        assert spec_meta["dagster/table_name"].split(".")[1:] == ["stripe", table]
        assert "jobs" not in meta and "rows_loaded" not in meta
        # the run's requests and retries: once, on the newest partition (not per day)
        assert ("run" in meta) == (event.partition == days[-1]) and "requests" not in meta
        loaded = meta.get("dagster/column_schema")
        assert (loaded is not None) == (event.partition == days[-1] and truth[table] > 0)
        if loaded is not None:  # the newest partition carries the loaded schema
            types = {c.name: c.type for c in loaded.value.columns}
            for column in spec_meta["dagster/column_schema"].columns:
                assert column.type in (types[column.name], "?"), (table, column)
    for table in TABLES:
        materialized = instance.get_materialized_partitions(AssetKey(["stripe", table.name]))
        assert materialized == set(days), table.name


def test_selecting_only_invoice_line_items(sandbox, stripe_env, instance):
    run_partitions(instance, "2024-05-05", select=["invoice_line_items"])
    truth = sandbox.counts(*day_window("2024-05-05"))
    assert stripe_env.count("invoice_line_items") == truth["invoice_line_items"]
    for other in ("invoices", "charges", "payouts"):
        assert not stripe_env.has(other) or stripe_env.count(other) == 0


def test_requests_made_are_the_minimum(sandbox, stripe_env, instance):
    """Pages of 100; child calls only where the embedded list has more, and one walk per
    automatic payout (Stripe refuses balance history for manual payouts)."""
    gte, lt = day_window("2024-05-01", days=3)
    truth = sandbox.counts(gte, lt)
    sandbox.reset_stats()
    run_partitions(instance, "2024-05-01", "2024-05-03")
    made = _requests_by_endpoint(sandbox.stats())

    def pages(n: int) -> int:
        return max(1, math.ceil(n / 100))

    for table, path in [
        ("charges", "/v1/charges"),
        ("customers", "/v1/customers"),
        ("invoices", "/v1/invoices"),
        ("subscriptions", "/v1/subscriptions"),
        ("payouts", "/v1/payouts"),
    ]:
        assert made.get(path, 0) == pages(truth[table]), path
    lines = _children_per_parent(stripe_env, "invoice_line_items", "invoice")
    items = _children_per_parent(stripe_env, "subscription_items", "subscription")
    txns = _children_per_parent(stripe_env, "payout_transactions", "payout_id")
    automatic = [p for (p,) in stripe_env.query("select id from stripe.payouts where automatic")]
    assert made.get("/v1/invoices/{id}/lines", 0) == sum(
        math.ceil((n - 10) / 100) for n in lines.values() if n > 10
    )
    assert made.get("/v1/subscription_items", 0) == sum(
        math.ceil((n - 10) / 100) for n in items.values() if n > 10
    )
    assert made.get("/v1/balance_transactions", 0) == sum(pages(txns.get(p, 0)) for p in automatic)
    assert any(n > 10 for n in lines.values()), "the window should hold an invoice with > 10 lines"
    assert automatic, "the window should hold an automatic payout"


def _children_per_parent(warehouse, table: str, column: str) -> dict[str, int]:
    if not warehouse.has(table):
        return {}
    return dict(warehouse.query(f"select {column}, count(*) from stripe.{table} group by 1"))


def _requests_by_endpoint(stats: dict) -> dict[str, int]:
    """Total /v1 requests per path template from the sandbox's stats."""
    return {path: by_status["total"] for path, by_status in stats["by_path"].items()}


def test_code_location_loads_with_no_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env["DAGSTER_HOME"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m",
         "stripe_assets.definitions"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_wrong_key_fails_clearly_without_echoing_it(sandbox, warehouse, instance, monkeypatch):
    wrong = "sk_test_definitelyWrongKey123456"
    monkeypatch.setenv("STRIPE_API_BASE", sandbox.base_url)
    monkeypatch.setenv("STRIPE_API_KEY", wrong)
    result = run_partitions(instance, "2024-05-03", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = str(failure.event_specific_data.error)
    assert "STRIPE_API_KEY" in message
    assert wrong not in message
    assert requests.get(f"{sandbox.base_url}/v1/charges", timeout=5).status_code == 401
