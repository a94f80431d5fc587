"""Dagster's SQLite event log writing each batch in one transaction per shard, on one open
connection per recent shard."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
from dagster import Field, StringSource
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
)
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage as DagsterSqliteEventLogStorage,
)
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine

from stripe_assets.dagster_storage import BatchWrites, enable_event_batching, insert_returning_ids


class SqliteEventLogStorage(BatchWrites, DagsterSqliteEventLogStorage):
    """Dagster's SQLite event log (a database per run plus the index shard, under the
    instance's `history/runs/` as Dagster keeps them), writing a batch in one transaction per
    shard. Optional config `base_dir`: the instance directory; by default the directory of
    the instance that loads it (so `DagsterInstance.from_config(dir)` works as with Dagster's
    default storage)."""

    OPEN_SHARDS = 4
    """Engines kept open: the index and the databases of the latest runs."""

    def __init__(
        self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None
    ) -> None:
        enable_event_batching()
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._config_data = inst_data
        if base_dir is not None:
            self._open(base_dir)

    def _open(self, instance_dir: str) -> None:
        events_dir = os.path.join(instance_dir, "history", "runs", "")
        DagsterSqliteEventLogStorage.__init__(self, events_dir, inst_data=self._config_data)

    def register_instance(self, instance: Any) -> None:
        if not hasattr(self, "_base_dir"):  # no base_dir configured: the instance's own
            self._open(instance.root_directory)
        super().register_instance(instance)

    @classmethod
    def config_type(cls) -> Any:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> SqliteEventLogStorage:
        base_dir = config_value.get("base_dir")
        return cls(inst_data=inst_data, base_dir=str(base_dir) if base_dir else None)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        """One transaction on `shard`. Dagster's own `_connect` creates and disposes an engine
        per call: a new connection, no statement cache, and a WAL checkpoint as it closes
        (~3 ms per transaction, for every run and step event). Here a recent shard keeps its
        engine and one open connection (run shards are still checkpointed after each write);
        the lock still serializes this process's threads."""
        with self._db_lock:
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = db.create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=db.pool.QueuePool,
                    pool_size=1,
                    max_overflow=4,  # Dagster's schema checks open a second one
                    connect_args={
                        "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                        "check_same_thread": False,  # one thread at a time, under the lock
                    },
                )
                if shard not in self._initialized_dbs:
                    self._initdb(engine)
                    self._initialized_dbs.add(shard)
            self._engines[shard] = engine
            while len(self._engines) > self.OPEN_SHARDS:
                self._engines.popitem(last=False)[1].dispose()
            with engine.connect() as conn:
                with conn.begin():
                    yield conn
                if shard != INDEX_SHARD_NAME:
                    # The UI follows a run by watching its database file; in WAL mode a commit
                    # only appends to the -wal file (Dagster's closing connection checkpointed
                    # it), so copy it into the file now.
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _close_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_engines()  # the run databases are deleted
        super().wipe()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()

    def _insert_and_return_ids(self, events: Sequence[EventLogEntry]) -> list[int]:
        rows = [self._event_to_row(event) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        with self.index_transaction() as conn:  # mirrored for cross-run asset queries
            return insert_returning_ids(conn, rows)
