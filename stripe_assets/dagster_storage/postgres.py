"""dagster-postgres's event log writing planned events in batches too, on one kept
connection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagster._core.events.log import EventLogEntry
from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage as DagsterPostgresEventLogStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)

from stripe_assets.dagster_storage import BatchWrites, enable_event_batching, insert_returning_ids


class PostgresEventLogStorage(BatchWrites, DagsterPostgresEventLogStorage):
    """dagster-postgres's event log, writing planned events in batches too (it batches only
    materializations and observations), with one connection kept open: dagster-postgres opens
    a new one for every statement group (~3 ms each, two or three per event) outside the
    webserver, which keeps one open too (`optimize_for_webserver` replaces this engine)."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PostgresEventLogStorage:
        return cls(
            pg_url_from_config(config_value),
            config_value.get("should_autocreate_tables", True),
            inst_data=inst_data,
            token_provider=get_token_provider_from_config(config_value),
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        enable_event_batching()
        super().__init__(*args, **kwargs)
        self._engine.dispose()
        self._engine = create_pg_engine(
            self.postgres_url,
            self._token_provider,
            isolation_level="AUTOCOMMIT",
            pool_size=2,  # Dagster checks a table on a second connection inside a transaction
            max_overflow=10,  # the daemon's threads, briefly
            pool_recycle=3600,
            pool_pre_ping=True,
        )

    def dispose(self) -> None:
        self._engine.dispose()
        super().dispose()

    def _insert_and_return_ids(self, events: Sequence[EventLogEntry]) -> list[int]:
        rows = [self._event_to_row(event) for event in events]
        with self._connect() as conn:
            return insert_returning_ids(conn, rows)
