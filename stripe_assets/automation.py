"""Automation: the partitioned job, the daily schedule and the Stripe events sensor.

- `stripe_job`: every Stripe table, daily partitions. `dagster job backfill -j stripe_job`
  launches one run per partition (asset backfills follow the assets' backfill policy).
- `stripe_daily_schedule`: yesterday's partition every day at 00:15 UTC, plus the last N
  partitions of the tables that STRIPE_REREAD_DAYS names (changes without an event). Off by
  default.
- `stripe_events_sensor`: follows `/v1/events`; every changed (or deleted) object's `created`
  day is re-requested, so late updates reach the warehouse. Off by default.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dagster import (
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)
from dagster._core.definitions.automation_tick_evaluation_context import (
    build_run_requests_with_backfill_policies,
)
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from stripe_assets.events import OBJECT_TABLES, StripeEvents
from stripe_assets.events import is_expired_cursor as _is_expired_cursor
from stripe_assets.partitions import daily_partitions, partition_of_created
from stripe_assets.resources import StripeResource
from stripe_assets.selection import partitioned_tables, selected_names, snapshot_tables
from stripe_assets.settings import (
    ASSET_KEY_PREFIX,
    GROUP_NAME,
    REREAD_DAYS_ENV,
    MissingApiKeyError,
    reread_days,
)
from stripe_assets.source.client import StripeClient
from stripe_assets.source.errors import StripeInvalidRequestError
from stripe_assets.tables import EVENT_RETENTION_SECONDS, TABLES_BY_NAME, children_of

JOB_NAME = "stripe_job"
SENSOR_INTERVAL_SECONDS = 300
MAX_PARTITIONS_PER_TICK = 25
MAX_EVENT_PAGES_PER_TICK = 50
TRIGGER_TAG = "stripe/trigger"
RANGE_TAGS = (ASSET_PARTITION_RANGE_START_TAG, ASSET_PARTITION_RANGE_END_TAG)

stripe_job = define_asset_job(
    JOB_NAME,
    selection=AssetSelection.groups(GROUP_NAME),  # with the table checks, run after each load
    description="Load every Stripe table for the selected daily partitions (UTC).",
)


CATALOG = "catalog"
CATALOG_RUN_KEY = "stripe-catalog:"
"""Run-key prefix of the schedule's daily catalog snapshot run."""
"""The sensor's pending key of the catalog snapshots (they have no partition)."""


def tables_touched(table: str) -> set[str]:
    """A changed object reloads its table and its children (lines, items, transactions), of
    the tables this code location loads (STRIPE_TABLES)."""
    chosen = set(selected_names())
    return {table, *(child.name for child in children_of(table))} & chosen


def reread_windows() -> dict[str, int]:
    """Daily partitions each table reloads per scheduled tick (1: yesterday only), from
    STRIPE_REREAD_DAYS. A child table re-reads at least as far back as its parent, since a
    reloaded parent's changes include its lines, items or transactions."""
    days = reread_days(partitioned_tables())
    for table, count in list(days.items()):
        for name in tables_touched(table):
            days[name] = max(days[name], count)
    return days


reread_windows()  # a malformed STRIPE_REREAD_DAYS fails the code location load, clearly


def _reread_partitions(yesterday: str, days: dict[str, int]) -> list[AssetKeyPartitionKey]:
    """The partitions before `yesterday` that each table's re-read window holds (a window of
    N days is yesterday, loaded by the daily run, and the N - 1 days before it)."""
    first = daily_partitions.start.date()
    last = date.fromisoformat(yesterday)
    wanted = []
    for table, count in days.items():
        for back in range(1, count):
            day = last - timedelta(days=back)
            if day >= first:
                wanted.append(AssetKeyPartitionKey(AssetKey([ASSET_KEY_PREFIX, table]), str(day)))
    return wanted


def _one_day_as_partition(request: RunRequest) -> RunRequest:
    """A range of one day becomes a plain partition request (`dagster/partition` tag), like
    the daily run and the sensor's runs."""
    span = request.partition_key_range
    if span is None or span.start != span.end:
        return request
    tags = {k: v for k, v in request.tags.items() if k not in RANGE_TAGS}
    return request.with_replaced_attrs(partition_key=span.start, tags=tags)


def _request_label(request: RunRequest) -> str:
    """`START...END:table,...` (or `DAY:table,...`): the run key's source and the tick log."""
    span = request.partition_key_range
    days = f"{span.start}...{span.end}" if span else str(request.partition_key)
    tables = ",".join(sorted(k.path[-1] for k in request.asset_selection or [])) or "all"
    return f"{days}:{tables}"


@schedule(
    name="stripe_daily_schedule",
    job=stripe_job,
    cron_schedule="15 0 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Yesterday's partition (UTC) at 00:15 UTC; the tables named in "
    f"{REREAD_DAYS_ENV} also reload the days before it (changes without an event).",
)
def stripe_daily_schedule(context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
    """One run loads yesterday for every table; each table with a re-read window of N days
    (STRIPE_REREAD_DAYS) also reloads the N - 1 days before.

    Tables with the same window share a run, cut by the asset's backfill policy (single_run:
    one run per window; multi_run:N: at most N days per run) with Dagster's own planner for
    automation run requests (`build_run_requests_with_backfill_policies`, what declarative
    automation uses), so scheduled re-reads and the UI's backfills split ranges alike. Every
    run claims the `stripe_warehouse` pool: on one DuckDB file they run one after another.
    """
    tick = context.scheduled_execution_time or datetime.now(UTC)
    with partition_loading_context(effective_dt=tick, dynamic_partitions_store=context.instance):
        yesterday = daily_partitions.get_last_partition_key()
        if yesterday is None:
            return SkipReason("No complete daily partition yet (STRIPE_START_DATE is not over).")
        rereads = build_run_requests_with_backfill_policies(
            _reread_partitions(yesterday, reread_windows()),
            context.repository_def.asset_graph,
            context.instance,
        )
    tags = {TRIGGER_TAG: "schedule"}
    daily = [AssetKey([ASSET_KEY_PREFIX, t]) for t in partitioned_tables()]
    requests = [
        RunRequest(
            run_key=f"stripe-daily:{yesterday}",
            partition_key=yesterday,
            asset_selection=daily,
            tags=tags,
        )
    ]
    for request in sorted(map(_one_day_as_partition, rereads), key=_request_label):
        label = _request_label(request)
        digest = hashlib.sha1(label.encode()).hexdigest()[:12]
        requests.append(
            request.with_replaced_attrs(
                run_key=f"stripe-reread:{yesterday}:{digest}",
                tags={**request.tags, TRIGGER_TAG: "reread"},
            )
        )
    if snapshot_tables():  # the catalog, whole, once a day
        requests.append(
            RunRequest(
                run_key=f"{CATALOG_RUN_KEY}{yesterday}",
                asset_selection=[AssetKey([ASSET_KEY_PREFIX, t]) for t in snapshot_tables()],
                tags={TRIGGER_TAG: "schedule"},
            )
        )
    context.log.info(
        f"Yesterday ({yesterday}) for every table"
        + "".join(f"; then {_request_label(r)}" for r in requests[1:])
    )
    return requests


@dataclass
class EventsCursor:
    """Sensor state: the newest event handled (`after`), or a time to restart from (`since`)
    when no event id is usable, plus partitions found but not yet requested (`pending`).
    """

    after: str | None = None
    since: int | None = None
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, raw: str | None) -> EventsCursor:
        return cls(**json.loads(raw)) if raw else cls()

    def dump(self) -> str:
        return json.dumps(
            {"after": self.after, "since": self.since, "pending": self.pending}, sort_keys=True
        )

    def add(self, partition: str, tables: set[str], event_ids: list[str]) -> None:
        entry = self.pending.setdefault(partition, {"tables": [], "events": ""})
        entry["tables"] = sorted(set(entry["tables"]) | tables)
        digest = hashlib.sha1((entry["events"] + "".join(event_ids)).encode()).hexdigest()
        entry["events"] = digest[:16]


def partition_of(created: int) -> str:
    """The daily partition of an object (the first one for anything created before it)."""
    return partition_of_created(created)


def _collect(
    context: SensorEvaluationContext, cursor: EventsCursor, events: list[dict[str, Any]]
) -> None:
    by_partition: dict[str, tuple[set[str], list[str]]] = {}
    too_new: set[str] = set()
    chosen = set(selected_names())
    for event in events:
        obj = event.get("data", {}).get("object") or {}
        table = OBJECT_TABLES.get(obj.get("object", ""))
        if table is None or table not in chosen:
            continue
        if TABLES_BY_NAME[table].snapshot:  # the catalog: one run reads it whole
            tables, ids = by_partition.setdefault(CATALOG, (set(), []))
            tables.add(table)
            ids.append(event["id"])
            continue
        created = obj.get(TABLES_BY_NAME[table].created_field)
        if not isinstance(created, int):
            continue
        key = partition_of(created)
        if not daily_partitions.has_partition_key(key):
            too_new.add(key)  # today's partition: the schedule loads it tomorrow
            continue
        tables, ids = by_partition.setdefault(key, (set(), []))
        tables.update(tables_touched(table))
        ids.append(event["id"])
    for key, (tables, ids) in by_partition.items():
        cursor.add(key, tables, ids)
    if too_new:
        context.log.info(
            f"Changes to objects created in open partitions {sorted(too_new)}: "
            "the schedule loads them once the day is over."
        )


def _read_events(
    context: SensorEvaluationContext, api: StripeEvents, cursor: EventsCursor
) -> list[dict[str, Any]]:
    if cursor.after is not None:
        try:
            events, more = api.newer_than(cursor.after, MAX_EVENT_PAGES_PER_TICK)
        except StripeInvalidRequestError as exc:
            if not _is_expired_cursor(exc):
                raise
            context.log.warning(
                f"The sensor's cursor event {cursor.after} is past Stripe's 30-day event "
                "retention: changes made before then cannot be read. Restarting from the "
                "oldest retained events; backfill older partitions to pick up such changes."
            )
            cursor.after = None
            cursor.since = int(time.time()) - EVENT_RETENTION_SECONDS + 60
            return _read_events(context, api, cursor)
        if more:
            context.log.info("More events are waiting: the next tick continues from here.")
    else:
        assert cursor.since is not None
        events, more = api.since(cursor.since, MAX_EVENT_PAGES_PER_TICK)
        if more:
            context.log.warning(
                f"Over {MAX_EVENT_PAGES_PER_TICK} pages of events since {cursor.since}: only "
                "the newest were read; backfill to pick up older changes."
            )
    if events:
        cursor.after, cursor.since = events[-1]["id"], None
    return events


def _run_requests(cursor: EventsCursor) -> list[RunRequest]:
    requests = []
    for key in sorted(cursor.pending)[:MAX_PARTITIONS_PER_TICK]:
        entry = cursor.pending.pop(key)
        requests.append(
            RunRequest(
                run_key=f"stripe-events:{key}:{entry['events']}",
                partition_key=None if key == CATALOG else key,
                asset_selection=[AssetKey([ASSET_KEY_PREFIX, t]) for t in entry["tables"]],
                tags={TRIGGER_TAG: "events"},
            )
        )
    return requests


@sensor(
    name="stripe_events_sensor",
    job=stripe_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.STOPPED,
    description="Re-load the daily partitions of Stripe objects created or changed since the "
    f"last tick (from /v1/events; at most {MAX_PARTITIONS_PER_TICK} partitions per tick).",
)
def stripe_events_sensor(
    context: SensorEvaluationContext, stripe: StripeResource
) -> SensorResult | SkipReason:
    """Follow `/v1/events` from a cursor and request the affected partitions."""
    try:
        settings = stripe.settings()  # at tick time, never at import
    except MissingApiKeyError as exc:
        return SkipReason(str(exc))
    api = StripeEvents(StripeClient(settings))
    cursor = EventsCursor.load(context.cursor)
    if cursor.after is None and cursor.since is None:
        newest = api.newest()
        if newest is None:
            cursor.since = int(time.time())
        else:
            cursor.after = newest["id"]
        return SensorResult(
            skip_reason=SkipReason(
                "Following Stripe events from now on (earlier history is loaded by backfills "
                "and the daily schedule)."
            ),
            cursor=cursor.dump(),
        )
    events = _read_events(context, api, cursor)
    _collect(context, cursor, events)
    requests = _run_requests(cursor)
    if cursor.pending:
        context.log.info(f"{len(cursor.pending)} partitions wait for the next tick.")
    if not requests:
        return SensorResult(
            skip_reason=SkipReason(f"{len(events)} new events; no partition to reload."),
            cursor=cursor.dump(),
        )
    return SensorResult(run_requests=requests, cursor=cursor.dump())
