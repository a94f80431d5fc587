"""The daily schedule and the Stripe events sensor, evaluated by Dagster against the sandbox,
and the runs they request executed for real."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import requests
from dagster import (
    AssetKey,
    DagsterInstance,
    EnvVar,
    build_schedule_context,
    build_sensor_context,
)

from stripe_assets import automation
from stripe_assets.definitions import defs
from stripe_assets.metadata import qualified_table_name
from stripe_assets.resources import StripeResource
from stripe_assets.tables import TABLES_BY_NAME
from stripe_assets_tests.conftest import DAILY, Warehouse, day_window, run_partitions

START, END = "2024-05-01", "2024-05-08"  # the mutable sandbox's days (end exclusive)


def _job():
    return defs.resolve_job_def(automation.JOB_NAME)


def _execute(instance: DagsterInstance, request) -> None:
    """Run a RunRequest the way the daemon would: the sensor's job, partition and selection."""
    result = _job().execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        asset_selection=request.asset_selection,
        tags=request.tags,
    )
    assert result.success


class _Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


def _tick(
    instance: DagsterInstance,
    cursor: str | None,
    log: _Messages | None = None,
    resources: dict | None = None,
):
    """One sensor evaluation, as the daemon does it (its log lines go to `log`): with the
    code location's resources, or `resources` instead."""
    sensor = defs.resolve_sensor_def("stripe_events_sensor")
    context = build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=resources or defs.resources
    )
    if log is not None:
        context.log.addHandler(log)
    return sensor.evaluate_tick(context)


def _get(sb, path: str) -> dict:
    response = requests.get(
        f"{sb.base_url}{path}", headers={"Authorization": f"Bearer {sb.api_key}"}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def _pick(warehouse: Warehouse, table: str, used: set[str], where: str = "true") -> tuple:
    """(id, day) of a loaded object created on a day not in `used` (distinct partitions)."""
    created = TABLES_BY_NAME[table].created_field
    rows = warehouse.query(
        f"select id, strftime({created} at time zone 'UTC', '%Y-%m-%d') as day "
        f"from stripe.{table} where {where} order by day, id"
    )
    for object_id, day in rows:
        if day not in used:
            used.add(day)
            return object_id, day
    raise AssertionError(f"no {table} row on a day other than {sorted(used)}")


def test_schedule_tick_requests_yesterday_and_its_run_loads_it(
    sandbox, stripe_env, instance, monkeypatch
):
    monkeypatch.setenv("STRIPE_REREAD_DAYS", "0")  # yesterday alone (re-reads: test_reread)
    schedule = defs.resolve_schedule_def("stripe_daily_schedule")
    assert schedule.cron_schedule == "15 0 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status.value == "STOPPED"

    tick_time = datetime(2024, 5, 5, 0, 15, tzinfo=UTC)
    context = build_schedule_context(
        instance=instance,
        scheduled_execution_time=tick_time,
        repository_def=defs.get_repository_def(),
    )
    data = schedule.evaluate_tick(context)
    assert [r.partition_key for r in data.run_requests] == ["2024-05-04", None]  # and catalog
    assert data.run_requests[1].run_key.startswith("stripe-catalog:")

    _execute(instance, data.run_requests[0])
    truth = sandbox.counts(*day_window("2024-05-04"))
    assert stripe_env.counts() == {t.name: truth[t.name] for t in DAILY}

    # What the UI shows: numeric row counts per partition, described columns, the table.
    for table in DAILY:
        event = instance.get_latest_materialization_event(AssetKey(["stripe", table.name]))
        materialization = event.asset_materialization
        assert materialization.partition == "2024-05-04"
        meta = {k: v.value for k, v in materialization.metadata.items()}
        assert meta["dagster/partition_row_count"] == truth[table.name]
        assert meta.get("dagster/row_count") == truth[table.name], (table.name, meta)
        assert meta["dagster/table_name"] == qualified_table_name(table.name)
        if truth[table.name]:  # dlt knows no columns of a table that never had a row
            described = {c.name: c.description for c in meta["dagster/column_schema"].columns}
            if "id" in table.column_descriptions:
                assert described["id"] == table.column_descriptions["id"]


def test_sensor_requests_exactly_the_changed_partitions_and_reruns_catch_up(
    mutable, warehouse, instance
):
    assert run_partitions(instance, START, "2024-05-07").success
    first = _tick(instance, None)  # starts following events from now: nothing to request
    assert not first.run_requests and first.cursor

    used: set[str] = set()
    customer, customer_day = _pick(warehouse, "customers", used)
    gone, gone_day = _pick(warehouse, "customers", used)
    invoice, invoice_day = _pick(warehouse, "invoices", used)
    subscription, subscription_day = _pick(
        warehouse, "subscriptions", used, "status not in ('canceled', 'incomplete_expired')"
    )
    email = "changed.after.load@example.com"
    result = mutable.mutate([
        {"op": "update", "resource": "customers", "id": customer, "changes": {"email": email}},
        {"op": "delete", "resource": "customers", "id": gone},
        {"op": "update", "resource": "invoices", "id": invoice,
         "changes": {"description": "late edit"}},
        {"op": "cancel", "resource": "subscriptions", "id": subscription},
        {"op": "create", "resource": "customers"},  # created today: no closed partition yet
    ])  # fmt: skip

    second = _tick(instance, first.cursor)
    requested = {r.partition_key: set(r.asset_selection) for r in second.run_requests}

    def keys(*tables: str) -> set[AssetKey]:
        return {AssetKey(["stripe", t]) for t in tables}

    expected = {
        customer_day: keys(*automation.tables_touched("customers")),  # with its children
        invoice_day: keys("invoices", "invoice_line_items"),
        gone_day: keys(*automation.tables_touched("customers")),
        subscription_day: keys("subscriptions", "subscription_items"),
    }
    # deleting a customer cancels its live subscriptions: their days are reloaded too
    for sub_id in result["results"][1]["canceled_subscriptions"]:
        day = automation.partition_of(_get(mutable, f"/v1/subscriptions/{sub_id}")["created"])
        expected[day] = expected.get(day, set()) | keys("subscriptions", "subscription_items")
    assert requested == expected
    assert len({r.run_key for r in second.run_requests}) == len(expected)

    for request in second.run_requests:
        _execute(instance, request)

    assert warehouse.query(f"select email from stripe.customers where id = '{customer}'") == [
        (email,)
    ]
    assert warehouse.query(f"select count(*) from stripe.customers where id = '{gone}'") == [(0,)]
    assert warehouse.query(f"select description from stripe.invoices where id = '{invoice}'") == [
        ("late edit",)
    ]
    status = _get(mutable, f"/v1/subscriptions/{subscription}")["status"]
    assert status == "canceled"
    assert warehouse.query(
        f"select status from stripe.subscriptions where id = '{subscription}'"
    ) == [(status,)]
    truth = mutable.counts(*day_window(START, days=7))
    assert warehouse.counts() == {t.name: truth[t.name] for t in DAILY}

    third = _tick(instance, second.cursor)  # nothing new: nothing requested again
    assert not third.run_requests


def test_sensor_follows_every_table_with_events(mutable, warehouse, instance):
    """Refunds, disputes, credit notes and invoice items change through their own events;
    payment intents send none for a metadata change (Stripe has no payment_intent.updated)."""
    assert run_partitions(instance, START, "2024-05-07").success
    cursor = _tick(instance, None).cursor
    used: set[str] = set()
    refund, refund_day = _pick(warehouse, "refunds", used)
    dispute, dispute_day = _pick(warehouse, "disputes", used)
    note, note_day = _pick(warehouse, "credit_notes", used)
    item, item_day = _pick(warehouse, "invoice_items", used)
    intent, _ = _pick(warehouse, "payment_intents", used)
    tag = {"metadata": {"changed": "after load"}}
    mutable.mutate([
        {"op": "update", "resource": "refunds", "id": refund, "changes": tag},
        {"op": "update", "resource": "disputes", "id": dispute, "changes": tag},
        {"op": "update", "resource": "credit_notes", "id": note, "changes": tag},
        {"op": "delete", "resource": "invoice_items", "id": item},
        {"op": "update", "resource": "payment_intents", "id": intent, "changes": tag},
    ])  # fmt: skip
    data = _tick(instance, cursor)
    requested = {
        r.partition_key: {k.path[-1] for k in r.asset_selection} for r in data.run_requests
    }
    assert requested == {
        refund_day: {"refunds"},
        dispute_day: {"disputes"},
        note_day: {"credit_notes", "credit_note_line_items"},
        item_day: {"invoice_items"},
    }
    for request in data.run_requests:
        _execute(instance, request)
    for table, object_id in (("refunds", refund), ("disputes", dispute), ("credit_notes", note)):
        (metadata,) = warehouse.query(
            f"select metadata from stripe.{table} where id = '{object_id}'"
        )
        assert json.loads(metadata[0]) == tag["metadata"], table
    assert warehouse.query(f"select count(*) from stripe.invoice_items where id = '{item}'") == [
        (0,)
    ]


def test_sensor_is_bounded_per_tick_and_keeps_the_rest(mutable, instance, monkeypatch):
    monkeypatch.setattr(automation, "MAX_PARTITIONS_PER_TICK", 3)
    cursor = _tick(instance, None).cursor
    customers = _get(mutable, "/v1/customers?limit=100")["data"]
    by_day: dict[str, str] = {}
    for c in customers:
        by_day.setdefault(automation.partition_of(c["created"]), c["id"])
    assert len(by_day) >= 5
    mutable.mutate([
        {"op": "update", "resource": "customers", "id": cid, "changes": {"name": "N"}}
        for cid in by_day.values()
    ])  # fmt: skip
    seen: list[str] = []
    for _ in range(4):
        data = _tick(instance, cursor)
        cursor = data.cursor
        assert len(data.run_requests) <= 3
        seen += [r.partition_key for r in data.run_requests]
    assert sorted(seen) == sorted(by_day)
    assert json.loads(cursor)["pending"] == {}


def test_sensor_skips_an_expired_cursor_and_says_so(mutable, instance):
    cursor = _tick(instance, None).cursor
    mutable.mutate([{"op": "update", "resource": "customers", "changes": {"name": "old"}}])
    old = _tick(instance, cursor)  # moves the cursor onto that event
    mutable.advance_clock(31 * 86400)  # ... which then falls out of the 30-day retention
    changed = mutable.mutate([{"op": "update", "resource": "payouts"}])["results"][0]
    log = _Messages()
    data = _tick(instance, old.cursor, log)
    assert any(
        line.startswith("WARNING") and "30-day event retention" in line for line in log.lines
    ), log.lines
    assert [r.partition_key for r in data.run_requests] == [
        automation.partition_of(changed["created"])
    ]
    assert json.loads(data.cursor)["after"] == changed["events"][-1]["id"]


def test_sensor_without_a_key_skips_instead_of_failing(instance, monkeypatch):
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    data = _tick(instance, None)
    assert not data.run_requests
    assert "STRIPE_API_KEY" in (data.skip_message or "")


def test_sensor_uses_the_key_set_on_its_resource(mutable, instance, monkeypatch):
    """`StripeResource(api_key=EnvVar(...))`, as the README recommends, is the key the sensor
    uses: with no STRIPE_API_KEY, then with a wrong one, it reads the sandbox's events."""
    monkeypatch.delenv("STRIPE_API_KEY")
    monkeypatch.setenv("STRIPE_ASSETS_SENSOR_KEY", mutable.api_key)
    resources = {"stripe": StripeResource(api_key=EnvVar("STRIPE_ASSETS_SENSOR_KEY"))}
    assert "STRIPE_API_KEY" in (_tick(instance, None).skip_message or "")  # the default resource
    mutable.reset_stats()
    first = _tick(instance, None, resources=resources)
    assert first.cursor and mutable.stats()["total"] >= 1  # it asked the sandbox where to start

    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_notTheResourcesKey")
    changed = mutable.mutate([{"op": "update", "resource": "payouts"}])["results"][0]
    second = _tick(instance, first.cursor, resources=resources)
    assert [r.partition_key for r in second.run_requests] == [
        automation.partition_of(changed["created"])
    ]
