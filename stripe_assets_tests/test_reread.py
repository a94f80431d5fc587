"""Re-reading recent days: a change that produces no event we read reaches the warehouse by
the daily schedule alone, when STRIPE_REREAD_DAYS gives the table a window that holds the
object's day. The schedule is evaluated by Dagster at a chosen tick time and the runs it
requests are executed for real against a sandbox of our own.

Scenario today: a charge's description is changed in the sandbox after its day was loaded.
Once `balance_transactions` is a table (and the sandbox can `settle` one: pending ->
available, no event), the same test should switch to it with the default window of 14 days.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from dagster import AssetKey, DagsterInstance, RunRequest, build_schedule_context

from stripe_assets import automation
from stripe_assets.definitions import defs
from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets.settings import REREAD_DAYS_ENV, reread_days
from stripe_assets.tables import TABLES
from stripe_assets_tests.conftest import Warehouse, day_window, run_partitions

START, LAST = "2024-05-01", "2024-05-07"  # the sandbox's days, all loaded before the tick
TICK = datetime(2024, 5, 8, 0, 15, tzinfo=UTC)  # the schedule's tick loading 05-07


@pytest.fixture
def own_sandbox(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """A sandbox this test mutates, the project pointed at it, partitions from START."""
    config = SandboxConfig(seed=23, start=START, end="2024-05-08", scale=0.5)
    with running_sandbox(config) as sb:
        monkeypatch.setenv("STRIPE_API_BASE", sb.base_url)
        monkeypatch.setenv("STRIPE_API_KEY", sb.api_key)
        yield sb


def _tick(instance: DagsterInstance, at: datetime = TICK) -> list[RunRequest]:
    schedule = defs.resolve_schedule_def("stripe_daily_schedule")
    context = build_schedule_context(
        instance=instance, scheduled_execution_time=at, repository_def=defs.get_repository_def()
    )
    return list(schedule.evaluate_tick(context).run_requests)


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


def _description(warehouse: Warehouse, charge: str) -> str:
    return warehouse.query(f"select description from stripe.charges where id = '{charge}'")[0][0]


def test_the_schedule_rereads_recent_days_and_brings_a_silent_change(
    own_sandbox, warehouse, instance, monkeypatch
):
    assert run_partitions(instance, START, LAST).success
    by_day = dict(
        warehouse.query(
            "select strftime(created at time zone 'UTC', '%Y-%m-%d') as day, min(id) "
            "from stripe.charges group by day"
        )
    )
    inside, outside = by_day["2024-05-04"], by_day["2024-05-01"]  # window 05-03..05-07
    own_sandbox.mutate([
        {"op": "update", "resource": "charges", "id": charge, "changes": {"description": text}}
        for charge, text in [(inside, "changed on day 4"), (outside, "changed on day 1")]
    ])  # fmt: skip
    before = {c: _description(warehouse, c) for c in (inside, outside)}
    assert "changed" not in str(before)

    # Without a window the tick loads yesterday only: the change stays out.
    monkeypatch.setenv(REREAD_DAYS_ENV, "0")
    assert [_shape(r) for r in _tick(instance)] == [(LAST, set())]

    monkeypatch.setenv(REREAD_DAYS_ENV, "0,charges=5")  # no default windows: charges alone
    requests = _tick(instance)
    assert [_shape(r) for r in requests] == [
        (LAST, set()),  # yesterday, every table (the job's whole selection)
        ("2024-05-03...2024-05-06", {"charges"}),  # the 4 days before it: one run (single_run)
    ]
    assert len({r.run_key for r in requests}) == 2
    assert requests[1].tags[automation.TRIGGER_TAG] == "reread"
    for request in requests:
        _execute(instance, request)

    assert _description(warehouse, inside) == "changed on day 4"
    assert _description(warehouse, outside) == before[outside]  # outside the 5-day window
    truth = own_sandbox.counts(*day_window(START, days=7))
    assert warehouse.counts() == {t.name: truth[t.name] for t in TABLES}
    event = instance.get_latest_materialization_event(AssetKey(["stripe", "charges"]))
    assert event.asset_materialization.partition == "2024-05-06"  # the range's runs reported


def test_windows_per_table_children_follow_their_parent_and_clip_at_the_first_day(
    instance, monkeypatch
):
    monkeypatch.setenv(REREAD_DAYS_ENV, "0,invoices=5,payouts=3,charges=3")
    windows = automation.reread_windows()
    assert windows["invoice_line_items"] == 5 and windows["payout_transactions"] == 3
    assert windows["customers"] == 1
    shapes = [_shape(r) for r in _tick(instance)]
    assert shapes == [
        (LAST, set()),
        ("2024-05-03...2024-05-06", {"invoices", "invoice_line_items"}),
        ("2024-05-05...2024-05-06", {"charges", "payouts", "payout_transactions"}),
    ]
    # Two days after the first partition (STRIPE_START_DATE, 2024-01-01 here): one day left.
    first = automation.daily_partitions.start.date().isoformat()
    assert first == "2024-01-01"
    assert [_shape(r) for r in _tick(instance, datetime(2024, 1, 3, 0, 15, tzinfo=UTC))] == [
        ("2024-01-02", set()),
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
