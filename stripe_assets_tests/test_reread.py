"""Re-reading recent days: a change that produces no event reaches the warehouse by the daily
schedule alone, when STRIPE_REREAD_DAYS gives the table a window that holds the object's day.
The schedule is evaluated by Dagster at a chosen tick time and the runs it requests are
executed for real against a sandbox of our own.

The scenario: balance transactions turn from `pending` to `available` (the sandbox's `settle`,
which, like Stripe, sends no event) days after their day was loaded; the default window
(`balance_transactions=14`) brings the change, yesterday's run alone does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from dagster import DagsterInstance, RunRequest, build_schedule_context

from stripe_assets import automation
from stripe_assets.definitions import defs
from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets.selection import partitioned_tables
from stripe_assets.settings import REREAD_DAYS_ENV, reread_days
from stripe_assets_tests.conftest import Warehouse, day_window, run_partitions

START, LAST = "2024-05-01", "2024-05-07"  # the sandbox's days, all loaded before the tick
TICK = datetime(2024, 5, 8, 0, 15, tzinfo=UTC)  # the schedule's tick loading 05-07
EVERY = set(partitioned_tables())  # the daily run's selection


@pytest.fixture
def own_sandbox(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """A sandbox this test mutates, the project pointed at it. Funds become available two
    days after they move, so the balance transactions of its last two days are pending."""
    config = SandboxConfig(seed=23, start=START, end="2024-05-08", scale=0.5)
    with running_sandbox(config) as sb:
        monkeypatch.setenv("STRIPE_API_BASE", sb.base_url)
        monkeypatch.setenv("STRIPE_API_KEY", sb.api_key)
        yield sb


def _tick(instance: DagsterInstance, at: datetime = TICK) -> list[RunRequest]:
    """The tick's partition runs (its catalog snapshot request, tested apart, left out)."""
    schedule = defs.resolve_schedule_def("stripe_daily_schedule")
    context = build_schedule_context(
        instance=instance, scheduled_execution_time=at, repository_def=defs.get_repository_def()
    )
    requests_ = schedule.evaluate_tick(context).run_requests
    return [r for r in requests_ if not (r.run_key or "").startswith(automation.CATALOG_RUN_KEY)]


def _shape(request: RunRequest) -> tuple[str, set[str]]:
    span = request.partition_key_range
    days = f"{span.start}...{span.end}" if span else str(request.partition_key)
    return days, {key.path[-1] for key in request.asset_selection or []}


def _execute(instance: DagsterInstance, request: RunRequest) -> None:
    """A run request executed as the daemon would: the schedule's job, partition or range
    (tags), selection."""
    result = defs.resolve_job_def(automation.JOB_NAME).execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        asset_selection=request.asset_selection,
        tags=request.tags,
    )
    assert result.success


def _sandbox_statuses(sb, day: str, days: int) -> dict[str, str]:
    """id -> status of the sandbox's balance transactions created in those days (its API)."""
    gte, lt = day_window(day, days)
    statuses, after = {}, None
    while True:
        params = {"limit": 100, "created[gte]": gte, "created[lt]": lt}
        if after:
            params["starting_after"] = after
        page = requests.get(
            f"{sb.base_url}/v1/balance_transactions", params=params, timeout=30,
            headers={"Authorization": f"Bearer {sb.api_key}"},
        ).json()  # fmt: skip
        statuses.update({bt["id"]: bt["status"] for bt in page["data"]})
        if not page["has_more"]:
            return statuses
        after = page["data"][-1]["id"]


def _warehouse_statuses(warehouse: Warehouse) -> dict[str, str]:
    return dict(warehouse.query("select id, status from stripe.balance_transactions"))


def _pending_of(warehouse: Warehouse, day: str) -> str:
    (bt,) = warehouse.query(
        "select min(id) from stripe.balance_transactions where status = 'pending' "
        f"and strftime(created at time zone 'UTC', '%Y-%m-%d') = '{day}'"
    )[0]
    assert bt, f"no pending balance transaction created on {day}"
    return bt


def test_a_balance_transaction_settled_without_an_event_arrives_by_the_next_tick(
    own_sandbox, warehouse, instance, monkeypatch
):
    assert run_partitions(instance, START, LAST, select=["balance_transactions"]).success
    older, newer = _pending_of(warehouse, "2024-05-06"), _pending_of(warehouse, LAST)
    settled = own_sandbox.mutate([
        {"op": "settle", "resource": "balance_transactions", "id": bt} for bt in (older, newer)
    ])  # fmt: skip
    assert settled["events"] == []  # nothing the events sensor could follow

    # Yesterday's run alone (no window) brings yesterday's transaction, not the older one.
    monkeypatch.setenv(REREAD_DAYS_ENV, "0")
    (daily,) = _tick(instance)
    assert _shape(daily) == (LAST, EVERY)  # every daily table
    _execute(instance, daily)
    assert _warehouse_statuses(warehouse)[newer] == "available"
    assert _warehouse_statuses(warehouse)[older] == "pending"

    # The default window: the 13 days before yesterday too, one run (single_run policy).
    monkeypatch.delenv(REREAD_DAYS_ENV)
    assert automation.reread_windows()["balance_transactions"] == 14
    requests_ = _tick(instance)
    assert [_shape(r) for r in requests_] == [
        (LAST, EVERY),
        ("2024-04-24...2024-05-06", {"balance_transactions"}),
    ]
    assert len({r.run_key for r in requests_}) == 2
    assert requests_[1].tags[automation.TRIGGER_TAG] == "reread"
    _execute(instance, requests_[1])  # (requests_[0] is the daily run executed above)

    loaded = _warehouse_statuses(warehouse)
    assert loaded[older] == "available"
    assert loaded == _sandbox_statuses(own_sandbox, START, days=7)  # every row, every status


def test_windows_per_table_children_follow_their_parent_and_clip_at_the_first_day(
    instance, monkeypatch
):
    monkeypatch.setenv(REREAD_DAYS_ENV, "0,invoices=5,payouts=3,charges=3")
    windows = automation.reread_windows()
    assert windows["invoice_line_items"] == 5 and windows["payout_transactions"] == 3
    assert windows["customers"] == 1
    shapes = [_shape(r) for r in _tick(instance)]
    assert shapes == [
        (LAST, EVERY),
        ("2024-05-03...2024-05-06", {"invoices", "invoice_line_items"}),
        ("2024-05-05...2024-05-06", {"charges", "payouts", "payout_transactions"}),
    ]
    # Two days after the first partition (STRIPE_START_DATE, 2024-01-01 here): one day left.
    first = automation.daily_partitions.start.date().isoformat()
    assert first == "2024-01-01"
    assert [_shape(r) for r in _tick(instance, datetime(2024, 1, 3, 0, 15, tzinfo=UTC))] == [
        ("2024-01-02", EVERY),
        (first, {"charges", "invoices", "invoice_line_items", "payouts", "payout_transactions"}),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", {"charges": 1, "customers": 1}),
        ("3", {"charges": 3, "customers": 3}),
        ("3,customers=0", {"charges": 3, "customers": 1}),
        (" charges = 14 ", {"charges": 14, "customers": 1}),
        ("0,balance_transactions=2", {"charges": 1, "customers": 1, "balance_transactions": 2}),
    ],
)
def test_reread_days_setting(monkeypatch, value, expected):
    monkeypatch.setenv(REREAD_DAYS_ENV, value)
    assert reread_days(list(expected)) == expected


def test_reread_days_default_is_fourteen_days_of_balance_transactions(monkeypatch):
    monkeypatch.delenv(REREAD_DAYS_ENV, raising=False)
    assert reread_days(["charges", "balance_transactions"]) == {
        "charges": 1,
        "balance_transactions": 14,
    }
    assert reread_days(["charges"]) == {"charges": 1}  # a default for a table not (yet) here


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("charges=x", "`charges=x` is not `N` or `table=N`"),
        ("=3", "`=3` is not `N` or `table=N`"),
        ("charges=-1", "`charges=-1` is not `N` or `table=N`"),
        ("chargez=3", "`chargez` is not a table; tables are charges, customers"),
    ],
)
def test_a_malformed_reread_days_names_the_fix(monkeypatch, value, message):
    monkeypatch.setenv(REREAD_DAYS_ENV, value)
    with pytest.raises(ValueError, match="STRIPE_REREAD_DAYS") as error:
        reread_days(["charges", "customers"])
    assert message in str(error.value)
