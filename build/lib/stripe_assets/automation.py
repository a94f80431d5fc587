"""Automation: the partitioned job, the daily schedule and the Stripe events sensor.

- `stripe_job`: every Stripe table, daily partitions. `dagster job backfill -j stripe_job`
  launches one run per partition (asset backfills follow the assets' backfill policy).
- `stripe_daily_schedule`: yesterday's partition every day at 00:15 UTC. Off by default.
- `stripe_events_sensor`: follows `/v1/events`; every changed (or deleted) object's `created`
  day is re-requested, so late updates reach the warehouse. Off by default.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    build_schedule_from_partitioned_job,
    define_asset_job,
    sensor,
)

from stripe_assets.events import EVENT_RETENTION_SECONDS, OBJECT_TABLES, StripeEvents
from stripe_assets.events import is_expired_cursor as _is_expired_cursor
from stripe_assets.partitions import daily_partitions
from stripe_assets.settings import ASSET_KEY_PREFIX, GROUP_NAME, MissingApiKeyError, StripeSettings
from stripe_assets.source.client import StripeClient
from stripe_assets.source.errors import StripeInvalidRequestError
from stripe_assets.tables import children_of

JOB_NAME = "stripe_job"
SENSOR_INTERVAL_SECONDS = 300
MAX_PARTITIONS_PER_TICK = 25
MAX_EVENT_PAGES_PER_TICK = 50
TRIGGER_TAG = "stripe/trigger"

stripe_job = define_asset_job(
    JOB_NAME,
    selection=AssetSelection.groups(GROUP_NAME),  # with the table checks, run after each load
    description="Load every Stripe table for the selected daily partitions (UTC).",
)

stripe_daily_schedule = build_schedule_from_partitioned_job(
    stripe_job,
    name="stripe_daily_schedule",
    hour_of_day=0,
    minute_of_hour=15,
    default_status=DefaultScheduleStatus.STOPPED,
    description="Yesterday's partition (UTC), every day at 00:15 UTC.",
)


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
    return datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%d")


def tables_touched(table: str) -> set[str]:
    """A changed object reloads its table and its children (lines, items, transactions)."""
    return {table, *(child.name for child in children_of(table))}


def _collect(
    context: SensorEvaluationContext, cursor: EventsCursor, events: list[dict[str, Any]]
) -> None:
    by_partition: dict[str, tuple[set[str], list[str]]] = {}
    too_new: set[str] = set()
    too_old: set[str] = set()
    for event in events:
        obj = event.get("data", {}).get("object") or {}
        table = OBJECT_TABLES.get(obj.get("object", ""))
        created = obj.get("created")
        if table is None or not isinstance(created, int):
            continue
        key = partition_of(created)
        if key < daily_partitions.start.strftime("%Y-%m-%d"):
            too_old.add(key)
            continue
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
    if too_old:
        context.log.info(
            f"Ignoring changes to objects created before the first partition "
            f"({sorted(too_old)[:5]}...; STRIPE_START_DATE)."
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
                partition_key=key,
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
def stripe_events_sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
    """Follow `/v1/events` from a cursor and request the affected partitions."""
    try:
        settings = StripeSettings.resolve()  # at tick time, never at import
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
