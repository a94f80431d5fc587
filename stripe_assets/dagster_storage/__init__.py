"""Dagster event log storages that write a batch of asset events in one transaction.

Why hand-written: a single-run backfill of a year writes one "materialization planned" and
one materialization event per (table, day), 2,920 each for 8 tables. Dagster 1.13 batches
them (`DAGSTER_EVENT_BATCH_SIZE`) but its SQLite storage still writes each event in two
fresh-engine transactions (~15 ms on this machine), and its Postgres storage batches only
materializations: planned events take five connections each (~25 ms). Both also serialize a
range run's check-planned event once per partition row. The subclasses below keep every
event and row Dagster writes (per-partition planned events, so a failed range run still
marks its days failed) and only change how they reach the database: one multi-row insert
per batch (and SQLite shard), the asset index updated once per asset key. Each write is one
transaction: a run killed while writing loses whole batches, never half of one, and the
partitions it did not record are simply not materialized until a rerun writes them.

Used by the shipped `dagster_home/dagster.yaml` and `dagster-postgres.yaml`
(`event_log_storage:`, the classes in `.sqlite` and `.postgres`). Dagster only hands a storage
batches when `DAGSTER_EVENT_BATCH_SIZE` is set in the process that writes the events (the
webserver and daemon create runs and write their planned events; a run's worker writes its
materializations): these storages set it wherever they are loaded, unless it is set already.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import _check as check
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    SqlEventLogStorageTable,
)
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._serdes import serialize_value

# Asset events whose rows can be written together: every one updates the asset index.
BATCHED_TYPES = frozenset(
    {
        DagsterEventType.ASSET_MATERIALIZATION,
        DagsterEventType.ASSET_OBSERVATION,
        DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    }
)


EVENT_BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
DEFAULT_EVENT_BATCH_SIZE = 1000
"""Events per write: up to 1,000 partitions of one table (or planned events of a run)."""


def enable_event_batching() -> None:
    """Let Dagster hand this process's event batches to the storage (read per event)."""
    os.environ.setdefault(EVENT_BATCH_SIZE_ENV, str(DEFAULT_EVENT_BATCH_SIZE))


def insert_returning_ids(conn: Any, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert event rows in SQLAlchemy's batched "insertmanyvalues" form (a few statements
    for thousands of rows, not one compiled statement each) and return their ids in order."""
    statement = SqlEventLogStorageTable.insert().returning(
        SqlEventLogStorageTable.c.id, sort_by_parameter_order=True
    )
    return [int(row[0]) for row in conn.execute(statement, list(rows))]


def _batched(event: EventLogEntry) -> bool:
    dagster_event = event.dagster_event
    return (
        dagster_event is not None
        and dagster_event.event_type in BATCHED_TYPES
        and dagster_event.asset_key is not None
    )


class BatchWrites(SqlEventLogStorage):
    """What both storages share: split a batch, index it, write check plans once."""

    def _insert_and_return_ids(self, events: Sequence[EventLogEntry]) -> list[int]:
        """Write `events` to the run's event log and return their storage ids (the ids the
        asset index refers to)."""
        raise NotImplementedError

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        check.sequence_param(events, "events", of_type=EventLogEntry)
        batched = [e for e in events if _batched(e)]
        if len({e.run_id for e in batched}) > 1:  # Dagster batches within one run
            batched = []
        for event in events:
            if not batched or not _batched(event):
                self.store_event(event)
        if not batched:
            return
        event_ids = self._insert_and_return_ids(batched)
        last_by_key: dict[Any, tuple[EventLogEntry, int]] = {}
        for event, event_id in zip(batched, event_ids, strict=True):
            last_by_key[check.not_none(event.dagster_event).asset_key] = (event, event_id)
        with self.index_transaction() as conn:
            self._store_asset_event_tags(conn, batched, event_ids)
            for event, event_id in last_by_key.values():  # the index keeps the latest only
                self._store_asset_event(conn, event, event_id)

    def _store_asset_check_evaluation_planned(
        self, event: EventLogEntry, event_id: int | None
    ) -> None:
        """As Dagster does (one PLANNED row per partition of the run), serializing the event
        once instead of once per row."""
        planned = check.not_none(event.dagster_event).asset_check_planned_data
        partitions = (
            planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        )
        serialized = serialize_value(event)
        timestamp = self._event_insert_timestamp(event)
        rows = [
            dict(
                asset_key=planned.asset_key.to_string(),
                check_name=planned.check_name,
                partition=partition,
                run_id=event.run_id,
                execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
                evaluation_event=serialized,
                evaluation_event_timestamp=timestamp,
                evaluation_event_storage_id=event_id,
            )
            for partition in partitions
        ]
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert(), rows)
