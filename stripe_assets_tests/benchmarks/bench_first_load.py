"""A new user's first load through Dagster: a single-run backfill of one (or three) years,
all tables, as `dagster asset materialize --select 'key:"stripe/*"' --partition-range ...`
on a fresh instance with the shipped settings (SQLite `dagster_home/dagster.yaml`, or
`dagster-postgres.yaml` against PostgreSQL on 127.0.0.1:5432), against the sandbox with
250 ms +- 50% latency and a rate limit equal to our request budget.

Prints per case the wall time from process start to exit and where it went (start-up and
code loading, run creation with its planned events, extract, normalize, load, Dagster's
event writing, checks, exit after the run's success; "other" is the rest: the step's set-up,
the deletions pass, the checks' start), requests against the minimum, the bound (minimum
requests / rate), the ratio, the target (1.15 x bound + 10 s) and the bookkeeping per
(table, day): run creation plus event writing, divided by tables x days. Nothing is
asserted.

    .venv/bin/python -m stripe_assets_tests.benchmarks.bench_first_load \\
        [--years 1,3] [--rates 25,100] [--storages sqlite,postgres] [--scale 0.1]

`--repo DIR` measures another checkout of the project (e.g. an older commit unpacked with
`git archive`) with this environment: before/after figures on the same machine. `--env
NAME=VALUE` (repeatable) sets a variable for the measured process, e.g.
`DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SELECT = 'key:"stripe/*"'
LOADED = re.compile(r"dlt phases: (.*)$", re.MULTILINE)
PHASE = re.compile(r"(extract|normalize|load) ([\d.]+) s")
STEP, CHECKS = "stripe", "stripe_table_checks"
SPLIT = (
    "startup", "run creation", "extract", "normalize", "load", "event writing", "checks", "exit",
)  # fmt: skip


@dataclass
class FirstLoad:
    storage: str
    years: int
    rate: float
    days: int
    tables: int
    wall_s: float
    split: dict[str, float]
    requests: int
    min_requests: int
    rows: int
    exact: bool
    returncode: int
    log: Path
    notes: list[str] = field(default_factory=list)

    @property
    def bound_s(self) -> float:
        return self.min_requests / self.rate

    @property
    def target_s(self) -> float:
        return 1.15 * self.bound_s + 10

    @property
    def bookkeeping_ms(self) -> float:
        spent = self.split.get("run creation", 0.0) + self.split.get("event writing", 0.0)
        return 1000 * spent / (self.tables * self.days)


EXTRA_ENV: dict[str, str] = {}
"""`--env` variables for every measured process."""


def _env(repo: Path, home: Path, warehouse: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STRIPE_", "DESTINATION__", "DAGSTER_", "DLT_"))
    }
    env.update(EXTRA_ENV)
    if repo != REPO:  # another checkout's code first on the path
        env["PYTHONPATH"] = os.pathsep.join([str(repo), env.get("PYTHONPATH", "")]).rstrip(":")
    return {**env, "DAGSTER_HOME": str(home), "DESTINATION__DUCKDB__CREDENTIALS": str(warehouse),
            **extra}  # fmt: skip


def _split(home: Path, env: dict[str, str], started: float, ended: float) -> dict[str, float]:
    """Seconds per phase from the run's event log (timestamps are wall-clock seconds)."""
    from dagster import DagsterEventType, DagsterInstance

    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith("DAGSTER_")})
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            run = instance.get_runs(limit=1)[0]
            created = instance.get_run_record_by_id(run.run_id).create_timestamp.timestamp()
            logs = instance.all_logs(run.run_id)
    finally:
        os.environ.clear()
        os.environ.update(saved)

    def first(kind: DagsterEventType, step: str | None = None) -> float:
        return min(
            e.timestamp
            for e in logs
            if e.dagster_event_type == kind and (step is None or e.step_key == step)
        )

    loaded = next((e for e in logs if e.user_message and LOADED.search(e.user_message)), None)
    if loaded is not None:
        found = LOADED.search(loaded.user_message)
        phases = {k: float(v) for k, v in PHASE.findall(found[1] if found else "")}
        writing = loaded.timestamp
    else:  # code without the phases line: extract holds all three, writing starts at output
        writing = first(DagsterEventType.STEP_OUTPUT, STEP)
        phases = {"extract": writing - first(DagsterEventType.STEP_START, STEP)}
    run_start = first(DagsterEventType.RUN_START)
    split = {
        "startup": created - started,
        "run creation": run_start - created,
        **{k: phases.get(k, float("nan")) for k in ("extract", "normalize", "load")},
        "event writing": first(DagsterEventType.STEP_SUCCESS, STEP) - writing,
        "checks": first(DagsterEventType.STEP_SUCCESS, CHECKS)
        - first(DagsterEventType.STEP_START, CHECKS),
        "exit": ended - first(DagsterEventType.RUN_SUCCESS),
    }
    split["other"] = (ended - started) - sum(v for v in split.values() if v == v)
    return split


@dataclass
class DagsterRun:
    """One `dagster asset materialize` of a range, timed from process start to exit."""

    wall_s: float
    returncode: int
    split: dict[str, float]
    warehouse: Path
    log: Path


def run_dagster(
    sb: Any, first_day: date, last_day: date, rate: float, work: Path, storage: str = "sqlite",
    postgres_url: str | None = None, repo: Path = REPO,
) -> DagsterRun:  # fmt: skip
    """Load [first_day, last_day] from the running sandbox `sb` in one run on a fresh
    instance with the shipped settings, into `work/warehouse.duckdb`."""
    home, warehouse, log = work / "dagster_home", work / "warehouse.duckdb", work / "run.log"
    home.mkdir(parents=True)
    yaml = "dagster-postgres.yaml" if storage == "postgres" else "dagster.yaml"
    shutil.copy(repo / "dagster_home" / yaml, home / "dagster.yaml")
    storage_env = {}
    if postgres_url:  # SQLAlchemy 2.1 reads postgresql:// as psycopg 3; we ship psycopg2
        storage_env["DAGSTER_POSTGRES_URL"] = postgres_url.replace(
            "postgresql://", "postgresql+psycopg2://"
        )
    env = _env(
        repo, home, warehouse,
        STRIPE_API_BASE=sb.base_url, STRIPE_API_KEY=sb.api_key,
        STRIPE_START_DATE=first_day.isoformat(), STRIPE_REQUESTS_PER_SECOND=f"{rate:g}",
        **storage_env,
    )  # fmt: skip
    command = [
        sys.executable, "-m", "dagster", "asset", "materialize",
        "-m", "stripe_assets.definitions", "--select", SELECT,
        "--partition-range", f"{first_day}...{last_day}",
    ]  # fmt: skip
    started = time.time()
    with log.open("w") as out:
        code = subprocess.run(
            command, env=env, cwd=repo, stdout=out, stderr=subprocess.STDOUT
        ).returncode
    ended = time.time()
    split = _split(home, env, started, ended) if code == 0 else {}
    return DagsterRun(ended - started, code, split, warehouse, log)


def first_load(
    storage: str, years: int, rate: float, scale: float, repo: Path = REPO, seed: int = 42
) -> FirstLoad | None:
    """One single-run backfill of `years` years (2024 back), measured; None when the
    storage is not available here (no PostgreSQL server)."""
    import duckdb

    from stripe_assets.sandbox import SandboxConfig, running_sandbox
    from stripe_assets.tables import TABLES
    from stripe_assets_tests.benchmarks.harness import _count
    from stripe_assets_tests.conftest import postgres_database

    first_day, last_day = date(2025 - years, 1, 1), date(2024, 12, 31)
    cfg = SandboxConfig(
        seed=seed, start=first_day.isoformat(), end=(last_day + timedelta(days=1)).isoformat(),
        scale=scale, latency_ms=250, jitter_ms=125, rate_limit=rate,
    )  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix=f"bench-first-load-{storage}-"))
    database = postgres_database("stripe_bench") if storage == "postgres" else None
    with database or contextlib.nullcontext("") as pg:
        if pg is None:
            return None
        with running_sandbox(cfg, subprocess_mode=True) as sb:
            # The first partition holds everything created before its end (connected
            # accounts older than the year, say); the catalog is whole.
            truth = sb.load_counts(None, cfg.end_ts)
            min_requests = sum(sb.minimum_requests(cfg.start_ts, cfg.end_ts).values())
            sb.reset_stats()
            run = run_dagster(sb, first_day, last_day, rate, work, storage, pg or None, repo)
            requests = int(sb.stats().get("total", 0))
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        rows = {t.name: _count(con, t.name) for t in TABLES}
    expected = {t.name: int(truth.get(t.name, 0)) for t in TABLES}
    return FirstLoad(
        storage=storage, years=years, rate=rate, days=(last_day - first_day).days + 1,
        tables=len(TABLES), wall_s=run.wall_s, split=run.split, requests=requests,
        min_requests=min_requests, rows=sum(rows.values()), exact=rows == expected,
        returncode=run.returncode, log=run.log,
    )  # fmt: skip


def print_table(results: list[FirstLoad]) -> None:
    heads = ["storage", "years", "req/s", "wall s", *SPLIT, "other", "requests", "min",
             "bound s", "wall/bound", "target s", "met", "ms/(table,day)", "rows"]  # fmt: skip
    rows = []
    for r in results:
        split = [f"{r.split.get(k, float('nan')):.1f}" for k in (*SPLIT, "other")]
        rows.append([
            r.storage, str(r.years), f"{r.rate:g}", f"{r.wall_s:.1f}", *split,
            str(r.requests), str(r.min_requests), f"{r.bound_s:.1f}",
            f"{r.wall_s / r.bound_s:.2f}", f"{r.target_s:.1f}",
            "yes" if r.wall_s <= r.target_s else "NO", f"{r.bookkeeping_ms:.2f}",
            f"{r.rows:,}" + ("" if r.exact else " MISMATCH"),
        ])  # fmt: skip
    widths = [max(len(x[i]) for x in [heads, *rows]) for i in range(len(heads))]
    for row in [heads, *rows]:
        print("  ".join(c.ljust(w) if i < 1 else c.rjust(w) for i, (c, w) in
                        enumerate(zip(row, widths, strict=True))))  # fmt: skip
    for r in results:
        if r.returncode:
            print(
                f"{r.storage} {r.years} y {r.rate:g} req/s: FAILED (exit {r.returncode}), {r.log}"
            )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--years", default="1,3")
    p.add_argument("--rates", default="25,100")
    p.add_argument("--storages", default="sqlite,postgres")
    p.add_argument("--scale", type=float, default=0.1, help="sandbox volume (0.1: ~12k rows/y)")
    p.add_argument("--repo", type=Path, default=REPO, help="checkout whose code is measured")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    args = p.parse_args(argv)
    EXTRA_ENV.update(item.split("=", 1) for item in args.env)
    results: list[FirstLoad] = []
    for years in map(int, args.years.split(",")):
        for rate in map(float, args.rates.split(",")):
            for storage in args.storages.split(","):
                result = first_load(storage, years, rate, args.scale, args.repo.resolve())
                if result is None:
                    print(f"skipped {storage}: no PostgreSQL on 127.0.0.1:5432")
                    continue
                print(
                    f"... {storage}, {years} y, {rate:g} req/s: {result.wall_s:.1f} s, "
                    f"exit {result.returncode}",
                    file=sys.stderr,
                )
                results.append(result)
    print(
        f"\nFirst load through Dagster (single run), all tables, scale {args.scale:g}, 250 ms "
        f"+- 50% latency, sandbox limit = budget; code from {args.repo}"
        f"{''.join(f'; {k}={v}' for k, v in EXTRA_ENV.items())}; target: wall <= "
        "1.15 x bound + 10 s, bookkeeping = (run creation + event writing) / (tables x days)"
    )
    print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
