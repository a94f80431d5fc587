"""Crash safety: `dagster asset materialize` killed with a real SIGKILL (the whole process
group: CLI and step worker) mid-extract, mid-load or while Dagster writes the partitions'
materializations, then run again, leaves exactly the sandbox's rows (none lost, none
duplicated) and every partition materialized with its own count. The leftovers of the
killed run are scanned for the key too."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance

from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets.tables import TABLES
from stripe_assets_tests.conftest import (
    DAILY,
    SANDBOX_END,
    SANDBOX_START,
    day_window,
    expected_counts,
)
from stripe_assets_tests.test_reliability import (
    MATERIALIZE,
    cli_env,
    duplicates,
    run_cli,
    scan_for,
    table_counts,
)

KEY = "sk_test_CRASHcanary3b7e1f0a92"
FIRST, LAST = "2024-05-01", "2024-05-10"


def _load_jobs(scratch: Path, state: str) -> list[Path]:
    """Table jobs of an unfinished load package in the run's dlt working dir."""
    pattern = f"stripe-assets-dlt-*/*/load/normalized/*/{state}/*"
    return [p for p in scratch.glob(pattern) if not p.name.startswith("_dlt")]


CATALOG = ",".join(t.name for t in TABLES if t.snapshot)
"""Left out of the events test: its counts are per partition."""


def _wait_for(what: str, condition: Callable[[], bool], proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 240
    while not condition():
        assert proc.poll() is None, f"the run ended (rc {proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["extract", "load"])
def test_sigkill_then_rerun_leaves_exactly_the_right_rows(tmp_path: Path, phase: str) -> None:
    # Latency stretches extraction; for the load phase the extraction is fast and the data
    # larger, so the loader's jobs are in flight for long enough to be caught.
    scale, latency = (1.0, 40.0) if phase == "extract" else (4.0, 0.0)
    cfg = SandboxConfig(
        seed=7, start=SANDBOX_START, end=SANDBOX_END, api_key=KEY, scale=scale,
        latency_ms=latency,
    )  # fmt: skip
    with running_sandbox(cfg) as sb:
        env = cli_env(tmp_path, sb.base_url, KEY, STRIPE_REQUESTS_PER_SECOND="200")
        scratch = Path(env["TMPDIR"])
        log = (tmp_path / "killed_run.log").open("w")
        killed = subprocess.Popen(
            [*MATERIALIZE, "--partition-range", f"{FIRST}...{LAST}"], env=env, cwd=tmp_path,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            if phase == "extract":
                _wait_for("20 pages", lambda: sb.stats()["by_status"].get("200", 0) >= 20, killed)
            else:
                _wait_for("a loaded job", lambda: bool(_load_jobs(scratch, "completed_jobs")),
                          killed)  # fmt: skip
        finally:
            os.killpg(killed.pid, signal.SIGKILL)
            killed.wait(timeout=30)
            log.close()
        assert killed.returncode == -signal.SIGKILL
        requests_before_kill = sb.stats()["total"]
        if phase == "load":  # the package was mid-load: some jobs done, others not yet
            assert _load_jobs(scratch, "completed_jobs")
            assert _load_jobs(scratch, "new_jobs") or _load_jobs(scratch, "started_jobs")
        leftovers = scan_for(KEY, {}, [tmp_path])

        rerun = run_cli(["--partition-range", f"{FIRST}...{LAST}"], env, tmp_path)
        truth = expected_counts(sb, day_window(FIRST)[0], day_window(LAST)[1])
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-5000:]
    db = tmp_path / "warehouse.duckdb"
    loaded = table_counts(db)
    assert loaded == truth
    assert {t.name: duplicates(db, t.name) for t in DAILY} == {t.name: 0 for t in DAILY}
    assert leftovers == []
    print(f"\nkilled mid-{phase} after {requests_before_kill} requests; rerun loaded {loaded}")


def _materializations(index: Path) -> int:
    """Materialization events stored so far (the SQLite index shard mirrors asset events)."""
    if not index.exists():
        return 0
    with sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=5) as con:
        try:
            query = "select count(*) from event_logs where dagster_event_type = ?"
            return con.execute(query, ("ASSET_MATERIALIZATION",)).fetchone()[0]
        except sqlite3.OperationalError:  # the table is being created
            return 0


@pytest.mark.slow
def test_killed_while_writing_events_then_rerun_completes_every_partition(
    sandbox, tmp_path: Path
) -> None:
    # 131 daily partitions (the sandbox has data in May): ~1,000 events to write after a
    # short extraction, one batch per table, so the kill lands between batches.
    first, last = "2024-01-01", LAST
    days = [
        (date.fromisoformat(first) + timedelta(n)).isoformat()
        for n in range((date.fromisoformat(last) - date.fromisoformat(first)).days + 1)
    ]
    env = cli_env(
        tmp_path,
        sandbox.base_url,
        sandbox.api_key,
        STRIPE_START_DATE="2023-12-31",
        STRIPE_REQUESTS_PER_SECOND="200",
        STRIPE_EXCLUDE_TABLES=CATALOG,
    )  # fmt: skip  (not the first partition: that one also holds everything older)
    home = Path(env["DAGSTER_HOME"])
    index, total = home / "history" / "runs" / "index.db", len(DAILY) * len(days)
    with (tmp_path / "killed_run.log").open("w") as log:
        killed = subprocess.Popen(
            [*MATERIALIZE, "--partition-range", f"{first}...{last}"], env=env, cwd=tmp_path,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            _wait_for("some materializations", lambda: _materializations(index) > 0, killed)
        finally:
            os.killpg(killed.pid, signal.SIGKILL)
            killed.wait(timeout=30)
    written = _materializations(index)
    assert 0 < written < total, f"killed after {written} of {total} materializations"

    rerun = run_cli(["--partition-range", f"{first}...{last}"], env, tmp_path)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-5000:]
    truth = {day: sandbox.counts(*day_window(day)) for day in days}
    with DagsterInstance.from_config(str(home)) as instance:
        latest = instance.get_runs(limit=1)[0]
        events = instance.get_records_for_run(
            latest.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
        ).records
        counts = {
            (
                e.asset_key.path[-1],
                e.partition,
            ): e.step_materialization_data.materialization.metadata[
                "dagster/partition_row_count"
            ].value
            for e in (r.event_log_entry.get_dagster_event() for r in events)
        }
        assert counts == {(t.name, day): truth[day][t.name] for t in DAILY for day in days}
        for table in DAILY:
            materialized = instance.get_materialized_partitions(AssetKey(["stripe", table.name]))
            assert materialized == set(days), table.name
    loaded = table_counts(tmp_path / "warehouse.duckdb")
    assert {t.name: loaded[t.name] for t in DAILY} == {
        t.name: sum(truth[day][t.name] for day in days) for t in DAILY
    }
    print(f"\nkilled after {written} of {total} materializations; the rerun wrote them all")
