"""Shared fixtures: a running local Stripe sandbox, a temporary DuckDB warehouse and a
helper to materialize partitions through Dagster."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, instance_for_test, materialize
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets.tables import TABLES
from stripe_assets_tests.needs import unavailable

if TYPE_CHECKING:
    import dlt

    from stripe_assets.settings import StripeSettings
    from stripe_assets.source import CreatedWindow
    from stripe_assets.source.progress import RunProgress

SANDBOX_START = "2024-05-01"
SANDBOX_END = "2024-05-11"  # exclusive
CLI_START_DATE = "2024-04-30"
"""STRIPE_START_DATE of the tests' CLI runs: a day before the sandbox's data, so that the first
partition (which also holds everything created before it) is not one they load."""


def day_window(day: str, days: int = 1) -> tuple[int, int]:
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)
    return int(start.timestamp()), int((start + timedelta(days=days)).timestamp())


DAILY = [t for t in TABLES if not t.snapshot]
"""The tables a partition loads (the catalog snapshots load whole, apart)."""
EVENTFUL = [t for t in DAILY if t.object != "event"]
"""The daily tables the sandbox fills by itself (its events come from mutations only)."""

UNLIMITED = "1000"
"""Requests per second of a test run against a sandbox without rate limit."""

SESSION_VOLUMES = {
    "disputes": 0.1,
    "refunds": 0.2,
    "reviews": 0.1,
    "early_fraud_warnings": 0.15,
    "application_fees": 0.2,
    "subscription_schedules": 0.5,
    "credit_notes": 0.4,
    "accounts": 4,
    "transfers": 6,
    "topups": 4,
    "setup_intents": 6,
}
"""More of the rarer objects than the defaults, so that a single day holds some of each."""


@pytest.fixture(scope="session")
def sandbox() -> Iterator:
    """One read-only sandbox for the session (tests that mutate or inject faults make their own)."""
    cfg = SandboxConfig(seed=7, start=SANDBOX_START, end=SANDBOX_END, volumes=SESSION_VOLUMES)
    with running_sandbox(cfg) as sb:
        yield sb


@pytest.fixture(scope="session")
def busy_day(sandbox) -> str:
    """The first day of the session sandbox on which every table has rows (ground truth)."""
    day = date.fromisoformat(SANDBOX_START)
    while day.isoformat() < SANDBOX_END:
        counts = sandbox.counts(*day_window(day.isoformat()))
        if all(counts[t.name] > 0 for t in EVENTFUL):
            return day.isoformat()
        day += timedelta(days=1)
    raise AssertionError("no day of the session sandbox exercises every table")


def expected_counts(sandbox, gte: int | None, lt: int | None) -> dict[str, int]:
    """Ground truth of a load of every table over a window: the catalog snapshots whole."""
    return sandbox.load_counts(gte, lt)


@dataclass
class Warehouse:
    path: Path

    def count(self, table: str) -> int:
        with duckdb.connect(str(self.path), read_only=True) as con:
            return con.execute(f"select count(*) from stripe.{table}").fetchone()[0]

    def counts(self) -> dict[str, int]:
        return {t.name: self.count(t.name) if self.has(t.name) else 0 for t in DAILY}

    def has(self, table: str) -> bool:
        if not self.path.exists():
            return False
        with duckdb.connect(str(self.path), read_only=True) as con:
            return bool(
                con.execute(
                    "select count(*) from information_schema.tables "
                    "where table_schema = 'stripe' and table_name = ?",
                    [table],
                ).fetchone()[0]
            )

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.path), read_only=True) as con:
            return con.execute(sql).fetchall()


TEST_PIPELINE = "stripe_tests"


def load_window(
    db: Path,
    window: CreatedWindow,
    settings: StripeSettings,
    tables: Sequence[str] | None = None,
    progress: RunProgress | None = None,
) -> dlt.Pipeline:
    """Load `window` with the project's source straight through dlt (no Dagster) into the
    DuckDB file `db`; dlt's working dir sits beside the file."""
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name=TEST_PIPELINE,
        pipelines_dir=str(db.parent / f"{db.stem}-dlt"),
        destination=dlt.destinations.duckdb(credentials=str(db)),
        dataset_name="stripe",
    )
    return load_with(pipeline, window, settings, tables, progress)


def load_with(
    pipeline: dlt.Pipeline,
    window: CreatedWindow,
    settings: StripeSettings,
    tables: Sequence[str] | None = None,
    progress: RunProgress | None = None,
) -> dlt.Pipeline:
    """Run the project's source over `window` through `pipeline`, in the file format the
    assets use (parquet where the destination takes it)."""
    from stripe_assets.source import stripe_source
    from stripe_assets.warehouse import loader_file_format

    source = stripe_source(window, settings=settings, progress=progress, tables=tables)
    pipeline.run(source, loader_file_format=loader_file_format(pipeline))
    return pipeline


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(path))
    monkeypatch.delenv("STRIPE_DESTINATION", raising=False)
    return Warehouse(path)


@pytest.fixture
def stripe_env(sandbox, warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    """Point the project at the session sandbox and a fresh DuckDB file. The sandbox sets no
    rate limit: a test key's default budget (25 req/s) would only slow the suite down."""
    monkeypatch.setenv("STRIPE_API_BASE", sandbox.base_url)
    monkeypatch.setenv("STRIPE_API_KEY", sandbox.api_key)
    monkeypatch.setenv("STRIPE_REQUESTS_PER_SECOND", UNLIMITED)
    return warehouse


MUTABLE_START, MUTABLE_END = "2024-05-01", "2024-05-08"


@pytest.fixture
def mutable(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """A sandbox of our own (this test mutates it), with the project pointed at it."""
    volumes = {"disputes": 0.3, "credit_notes": 0.3}  # a few on most days
    cfg = SandboxConfig(seed=11, start=MUTABLE_START, end=MUTABLE_END, scale=0.5, volumes=volumes)
    with running_sandbox(cfg) as sb:
        monkeypatch.setenv("STRIPE_API_BASE", sb.base_url)
        monkeypatch.setenv("STRIPE_API_KEY", sb.api_key)
        monkeypatch.setenv("STRIPE_REQUESTS_PER_SECOND", UNLIMITED)
        yield sb


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as inst:
        yield inst


def run_partitions(
    instance: DagsterInstance,
    first: str,
    last: str | None = None,
    select: Sequence[str] | None = None,
    raise_on_error: bool = True,
):
    """Materialize `stripe/*` (or `select` tables) for one partition or a single-run range."""
    from stripe_assets.assets import stripe_tables as assets_def
    from stripe_assets.definitions import defs

    selection = [AssetKey(["stripe", t]) for t in select] if select else None
    if last is None or last == first:
        return materialize(
            [assets_def],
            partition_key=first,
            selection=selection,
            instance=instance,
            resources=defs.resources,
            raise_on_error=raise_on_error,
        )
    tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
    return materialize(
        [assets_def],
        tags=tags,
        selection=selection,
        instance=instance,
        resources=defs.resources,
        raise_on_error=raise_on_error,
    )


# Trust auth ignores the password, but dlt's PostgresCredentials requires one.
POSTGRES_DSN = "postgresql://postgres:trust@127.0.0.1:5432"


@contextmanager
def postgres_database(prefix: str = "stripe_assets") -> Iterator[str | None]:
    """A fresh, empty PostgreSQL database, dropped afterwards (None when no server is
    reachable on 127.0.0.1:5432)."""
    import uuid

    import psycopg2

    try:
        admin = psycopg2.connect(f"{POSTGRES_DSN}/test", connect_timeout=3)
    except psycopg2.OperationalError:
        yield None
        return
    admin.autocommit = True
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f"create database {name}")
    try:
        yield f"{POSTGRES_DSN}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"drop database if exists {name} with (force)")
        admin.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (skips when no server is reachable)."""
    pytest.importorskip("psycopg2")
    with postgres_database() as url:
        if url is None:
            unavailable("PostgreSQL is not reachable on 127.0.0.1:5432")
        yield url


def postgres_counts(url: str) -> dict[str, int]:
    """Rows per table in the `stripe` schema of a PostgreSQL database (0 for a table with no
    rows yet, which dlt has not created)."""
    import psycopg2

    loaded: dict[str, int] = {}
    with psycopg2.connect(url) as con, con.cursor() as cur:
        for table in DAILY:
            cur.execute("select to_regclass(%s)", (f"stripe.{table.name}",))
            if cur.fetchone()[0] is None:
                loaded[table.name] = 0
                continue
            cur.execute(f"select count(*) from stripe.{table.name}")
            loaded[table.name] = cur.fetchone()[0]
    return loaded
