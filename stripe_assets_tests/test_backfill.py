"""Backfills as a user runs them: the CLI range (one run), and backfills launched through the
Dagster daemon with the instance settings we ship (`dagster_home/dagster.yaml`), where the
pool serializes runs on one DuckDB file and a higher limit lets Postgres runs overlap.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from dagster._time import get_current_timestamp

from stripe_assets.definitions import defs
from stripe_assets_tests.conftest import DAILY, day_window, postgres_counts

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODULE = ["-m", "stripe_assets.definitions"]
TERMINAL = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    """A fresh DAGSTER_HOME holding exactly the instance settings the project ships."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return home


def _env(sandbox, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DESTINATION__"))}
    env.update(
        DAGSTER_HOME=str(home),
        STRIPE_API_BASE=sandbox.base_url,
        STRIPE_API_KEY=sandbox.api_key,
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _dagster(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    out = subprocess.run(
        [str(BIN / "dagster"), *args], env=env, cwd=REPO, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


@contextmanager
def _daemon(env: dict[str, str], log: Path) -> Iterator[None]:
    """`dagster-daemon run` (queue, backfills, ...) for the block; stopped with its children."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", *MODULE], env=env, cwd=REPO, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            yield
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _wait_for_runs(instance: DagsterInstance, count: int, log: Path, timeout: float = 480):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = instance.get_run_records(RunsFilter())
        if len(records) >= count and all(r.dagster_run.status in TERMINAL for r in records):
            return sorted(records, key=lambda r: r.start_time or 0)
        time.sleep(1)
    tail = log.read_text()[-4000:]
    raise AssertionError(f"runs did not finish in {timeout}s; daemon log:\n{tail}")


def _assert_all_succeeded(instance: DagsterInstance, records, count: int) -> None:
    failures = [
        str(event.dagster_event.event_specific_data.error)[-2500:]
        for r in records
        if r.dagster_run.status != DagsterRunStatus.SUCCESS
        for event in instance.all_logs(r.dagster_run.run_id)
        if event.dagster_event and event.dagster_event.is_step_failure
    ]
    assert len(records) == count and not failures, failures


def _timeline(instance: DagsterInstance, records) -> str:
    """Each run's queue and run events, for a failure message."""
    lines = []
    for r in records:
        events = [
            f"{e.dagster_event_type.value}@{e.timestamp:.1f}"
            for e in instance.all_logs(r.dagster_run.run_id)
            if e.dagster_event_type and e.dagster_event_type.value.startswith(("RUN", "PIPELINE"))
        ]
        lines.append(f"{r.dagster_run.run_id[:8]} {' '.join(events)} end={r.end_time:.1f}")
    return "\n".join(lines)


def _overlaps(instance: DagsterInstance, records) -> bool:
    """Whether a run left the queue (RUN_STARTING) while the one before it still ran: the pool's
    decision, independent of how long each run process takes to start."""
    dequeued = {
        r.dagster_run.run_id: instance.all_logs(
            r.dagster_run.run_id, of_type=DagsterEventType.RUN_STARTING
        )[0].timestamp
        for r in records
    }
    ordered = sorted(records, key=lambda r: dequeued[r.dagster_run.run_id])
    return any(dequeued[b.dagster_run.run_id] < a.end_time for a, b in itertools.pairwise(ordered))


@pytest.mark.slow
def test_cli_partition_range_is_one_run_with_exact_counts(sandbox, warehouse, dagster_home):
    env = _env(sandbox, dagster_home, DESTINATION__DUCKDB__CREDENTIALS=str(warehouse.path))
    _dagster(env, "asset", "materialize", *MODULE, "--select", 'key:"stripe/*"',
             "--partition-range", "2024-05-01...2024-05-03")  # fmt: skip
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs()
    assert len(runs) == 1
    assert runs[0].tags[ASSET_PARTITION_RANGE_START_TAG] == "2024-05-01"
    assert runs[0].tags[ASSET_PARTITION_RANGE_END_TAG] == "2024-05-03"
    truth = sandbox.counts(*day_window("2024-05-01", days=3))
    assert warehouse.counts() == {t.name: truth[t.name] for t in DAILY}


@pytest.mark.slow
def test_ui_backfill_one_run_per_partition_serialized_by_the_pool_then_marts_once(
    sandbox, warehouse, dagster_home, tmp_path
):
    """An asset backfill as the UI launches it, with STRIPE_BACKFILL_POLICY=multi_run and the
    marts automation sensor on: one run per partition, all queued at once, run one at a time
    on the DuckDB file; the marts wait for the whole backfill, are built once, and the pool
    never lets them run beside a load."""
    env = _env(
        sandbox, dagster_home, STRIPE_BACKFILL_POLICY="multi_run",
        STRIPE_MARTS_AUTOMATION_INTERVAL="5",
        DESTINATION__DUCKDB__CREDENTIALS=str(warehouse.path),
    )  # fmt: skip
    # Dagster 1.13 applies `default_limit` to a pool only from the queue iteration after the
    # pool is first seen: on a fresh instance the first queued batch would all start at once.
    # The documented setup step creates the pool first.
    _dagster(env, "instance", "concurrency", "set", "stripe_warehouse", "1")
    _dagster(env, "sensor", "start", "stripe_marts_automation", *MODULE)
    partitions = ["2024-05-04", "2024-05-05"]
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.add_backfill(
            PartitionBackfill.from_asset_partitions(
                backfill_id="stripebf1",
                asset_graph=defs.resolve_asset_graph(),
                partition_names=partitions,
                asset_selection=[AssetKey(["stripe", t.name]) for t in DAILY],
                backfill_timestamp=get_current_timestamp(),
                tags={},
                dynamic_partitions_store=instance,
                all_partitions=False,
                title=None,
                description=None,
                run_config=None,
            )
        )
        log = tmp_path / "daemon.log"
        with _daemon(env, log):
            records = _wait_for_runs(instance, len(partitions) + 1, log)
            _assert_all_succeeded(instance, records, len(partitions) + 1)
        assert not _overlaps(instance, records), _timeline(instance, records)
        timeline = _timeline(instance, records)

    marts = [r for r in records if _builds_marts(r)]
    loads = [r for r in records if not _builds_marts(r)]
    assert len(marts) == 1 and len(loads) == len(partitions), timeline
    assert marts[0].start_time >= max(r.end_time for r in loads), timeline
    ranges = sorted(
        (r.dagster_run.tags[ASSET_PARTITION_RANGE_START_TAG],
         r.dagster_run.tags[ASSET_PARTITION_RANGE_END_TAG])
        for r in loads
    )  # fmt: skip
    assert ranges == [(p, p) for p in partitions]  # one partition per run
    truth = sandbox.counts(*day_window(partitions[0], days=2))
    assert warehouse.counts() == {t.name: truth[t.name] for t in DAILY}
    assert warehouse.query("select count(*) from stripe_marts.invoice_details") == [
        (truth["invoices"],)
    ]


def _builds_marts(record) -> bool:
    return any(k.path[0] == "stripe_marts" for k in record.dagster_run.asset_selection or [])


@pytest.mark.slow
@pytest.mark.postgres
def test_job_backfill_on_postgres_runs_in_parallel_with_a_higher_pool_limit(
    sandbox, dagster_home, postgres_url, tmp_path
):
    env = _env(
        sandbox, dagster_home, STRIPE_DESTINATION="postgres",
        DESTINATION__POSTGRES__CREDENTIALS=postgres_url,
    )  # fmt: skip
    _dagster(env, "instance", "concurrency", "set", "stripe_warehouse", "2")
    partitions = ["2024-05-08", "2024-05-09"]
    _dagster(env, "job", "backfill", *MODULE, "-j", "stripe_job", "--partitions",
             ",".join(partitions), "--noprompt")  # fmt: skip
    log = tmp_path / "daemon.log"
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        queued = instance.get_runs()
        assert len(queued) == 2 and all(r.status == DagsterRunStatus.QUEUED for r in queued)
        with _daemon(env, log):
            records = _wait_for_runs(instance, len(partitions), log)
            _assert_all_succeeded(instance, records, len(partitions))
        assert _overlaps(instance, records), _timeline(instance, records)

    truth = sandbox.counts(*day_window(partitions[0], days=2))
    assert postgres_counts(postgres_url) == {t.name: truth[t.name] for t in DAILY}
