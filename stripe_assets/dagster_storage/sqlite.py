"""Dagster's SQLite event log writing each batch in one transaction per shard."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage as DagsterSqliteEventLogStorage,
)
from dagster._serdes import ConfigurableClassData

from stripe_assets.dagster_storage import BatchWrites, enable_event_batching, insert_returning_ids


class SqliteEventLogStorage(BatchWrites, DagsterSqliteEventLogStorage):
    """Dagster's SQLite event log (a database per run plus the index shard), writing a batch
    in one transaction per shard. Config `base_dir`: the instance directory (DAGSTER_HOME);
    the run databases stay where Dagster keeps them, `<base_dir>/history/runs/`."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        enable_event_batching()
        super().__init__(os.path.join(base_dir, "history", "runs", ""), inst_data=inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> SqliteEventLogStorage:
        return cls(inst_data=inst_data, base_dir=str(config_value["base_dir"]))

    def _insert_and_return_ids(self, events: Sequence[EventLogEntry]) -> list[int]:
        rows = [self._event_to_row(event) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        with self.index_transaction() as conn:  # mirrored for cross-run asset queries
            return insert_returning_ids(conn, rows)
