"""The end-to-end slice: Stripe sandbox over HTTP -> dlt source -> Dagster assets -> DuckDB,
for every table of the registry."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import date, timedelta

import requests
from dagster import AssetKey

from stripe_assets.assets import stripe_tables
from stripe_assets.metadata import qualified_table_name
from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets.tables import TABLES_BY_NAME
from stripe_assets_tests.conftest import (
    DAILY,
    EVENTFUL,
    SANDBOX_END,
    SANDBOX_START,
    day_window,
    run_partitions,
)
from stripe_assets_tests.sandbox_fixtures import Client

PARENT_TABLES = [t for t in DAILY if not t.is_child]


def _ids_are_unique(warehouse, table: str) -> bool:
    key = ", ".join(TABLES_BY_NAME[table].primary_key)
    if not warehouse.has(table):
        return True
    total, distinct = warehouse.query(
        f"select count(*), count(distinct ({key})) from stripe.{table}"
    )[0]
    return total == distinct


def test_partition_rows_equal_ground_truth(sandbox, busy_day, stripe_env, instance):
    result = run_partitions(instance, busy_day)
    assert result.success
    truth = sandbox.counts(*day_window(busy_day))
    assert stripe_env.counts() == {t.name: truth[t.name] for t in DAILY}
    assert all(truth[t.name] > 0 for t in EVENTFUL)
    gte, lt = day_window(busy_day)
    for table in PARENT_TABLES:
        if not stripe_env.has(table.name):  # (events: none in this sandbox)
            continue
        created = table.created_field
        outside = stripe_env.query(
            f"select count(*) from stripe.{table.name} "
            f"where {created} < to_timestamp({gte}) or {created} >= to_timestamp({lt})"
        )[0][0]
        assert outside == 0, table.name


def test_rerunning_a_partition_changes_no_count(sandbox, busy_day, stripe_env, instance):
    run_partitions(instance, busy_day)
    first = stripe_env.counts()
    run_partitions(instance, busy_day)
    assert stripe_env.counts() == first
    assert all(_ids_are_unique(stripe_env, t.name) for t in DAILY)


def test_older_partition_after_newer_loads_fully(sandbox, stripe_env, instance):
    run_partitions(instance, "2024-05-06")
    run_partitions(instance, "2024-05-04")
    newer = sandbox.counts(*day_window("2024-05-06"))
    older = sandbox.counts(*day_window("2024-05-04"))
    assert stripe_env.counts() == {t.name: newer[t.name] + older[t.name] for t in DAILY}


def test_single_run_backfill_of_a_range(sandbox, stripe_env, instance):
    """One run over three days: every partition is materialized with its own day's rows (the
    sandbox's per-day ground truth), the table's name and typed columns agree with the
    definition, and the load's job list stays out of the materializations."""
    days = ["2024-05-01", "2024-05-02", "2024-05-03"]
    result = run_partitions(instance, days[0], days[-1])
    assert result.success
    truth = sandbox.counts(*day_window(days[0], days=3))
    assert stripe_env.counts() == {t.name: truth[t.name] for t in DAILY}
    per_day = {day: sandbox.counts(*day_window(day)) for day in days}
    specs = {spec.key: spec for spec in stripe_tables.specs}
    events = result.asset_materializations_for_node("stripe")
    assert len(events) == len(DAILY) * len(days)
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
        loaded = loaded if loaded is not None and loaded.value.columns else None
        assert (loaded is not None) == (event.partition == days[-1] and truth[table] > 0)
        if loaded is not None:  # the newest partition carries the loaded schema
            types = {c.name: c.type for c in loaded.value.columns}
            for column in spec_meta["dagster/column_schema"].columns:
                assert column.type in (types[column.name], "?"), (table, column)
    for table in DAILY:
        materialized = instance.get_materialized_partitions(AssetKey(["stripe", table.name]))
        assert materialized == set(days), table.name


def test_selecting_only_invoice_line_items(sandbox, stripe_env, instance):
    run_partitions(instance, "2024-05-05", select=["invoice_line_items"])
    truth = sandbox.counts(*day_window("2024-05-05"))
    assert stripe_env.count("invoice_line_items") == truth["invoice_line_items"]
    for other in ("invoices", "charges", "payouts"):
        assert not stripe_env.has(other) or stripe_env.count(other) == 0


def test_a_list_without_created_filter_loads_an_old_and_a_recent_day(
    warehouse, instance, monkeypatch
):
    """Credit notes: Stripe's list takes no `created`, so a partition walks it newest first
    and stops at the first page older than its day; an old day costs every newer page."""
    names = ["credit_notes", "credit_note_line_items"]
    cfg = SandboxConfig(
        seed=7, start=SANDBOX_START, end=SANDBOX_END, volumes={"credit_notes": 1.0}
    )  # a credit note for every finalized invoice: over 100, more than a page
    with running_sandbox(cfg) as sandbox:
        monkeypatch.setenv("STRIPE_API_BASE", sandbox.base_url)
        monkeypatch.setenv("STRIPE_API_KEY", sandbox.api_key)
        c = Client(sandbox.base_url, sandbox.api_key)
        newest_first = [cn["created"] for cn in c.walk("/v1/credit_notes")]
        c.close()
        days = _days_with(sandbox, "credit_notes")
        old, recent = days[0], days[-1]
        requests_made = {}
        for day in (recent, old):
            sandbox.reset_stats()
            assert run_partitions(instance, day, select=names).success
            requests_made[day] = sandbox.stats()["by_path"]["/v1/credit_notes"]["total"]
            gte = day_window(day)[0]
            # the pages up to the first object older than the day (or the list's end)
            newer = sum(1 for created in newest_first if created >= gte)
            assert requests_made[day] == max(1, math.ceil(
                (newer + (newer < len(newest_first))) / 100
            )), day  # fmt: skip
        truth = {n: sum(sandbox.counts(*day_window(d))[n] for d in (old, recent)) for n in names}
    assert {n: warehouse.count(n) for n in names} == truth
    assert len(newest_first) > 100 and requests_made[old] > requests_made[recent]


def _days_with(sandbox, table: str) -> list[str]:
    out = []
    day = date.fromisoformat(SANDBOX_START)
    while day.isoformat() < SANDBOX_END:
        if sandbox.counts(*day_window(day.isoformat()))[table]:
            out.append(day.isoformat())
        day += timedelta(days=1)
    return out


def test_code_location_loads_with_no_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env["DAGSTER_HOME"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m",
         "stripe_assets.definitions"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_wrong_key_fails_clearly_without_echoing_it(
    sandbox, busy_day, warehouse, instance, monkeypatch
):
    wrong = "sk_test_definitelyWrongKey123456"
    monkeypatch.setenv("STRIPE_API_BASE", sandbox.base_url)
    monkeypatch.setenv("STRIPE_API_KEY", wrong)
    result = run_partitions(instance, busy_day, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = str(failure.event_specific_data.error)
    assert "STRIPE_API_KEY" in message
    assert wrong not in message
    assert requests.get(f"{sandbox.base_url}/v1/charges", timeout=5).status_code == 401
