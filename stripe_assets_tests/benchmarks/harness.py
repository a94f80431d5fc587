"""Shared benchmark plumbing: a sandbox in its own process, our pipeline in another (so
neither shares the other's GIL), and the figures of one run: wall time per phase, rows,
requests, 429s, peak RSS and CPU seconds of both processes. Nothing here asserts times."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets.tables import TABLES

MODULE = "stripe_assets_tests.benchmarks.harness"
NAMES = [t.name for t in TABLES]
EIGHT = [
    "customers", "charges", "invoices", "invoice_line_items", "subscriptions",
    "subscription_items", "payouts", "payout_transactions",
]  # fmt: skip
"""The tables of the earlier releases: their figures are compared across releases."""


@dataclass
class RunFigures:
    rows: int
    truth: int
    exact: bool
    extract_s: float
    normalize_s: float
    load_s: float
    wall_s: float
    peak_rss_mb: float
    cpu_s: float
    sandbox_cpu_s: float
    workers_cpu_s: float
    """CPU seconds of the run's page worker processes (`cpu_s` is the run's process)."""
    tree_peak_rss_mb: float
    """Peak of the summed RSS of the run's process and its page workers (sampled)."""
    requests: int
    rate_limited: int
    min_requests: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s else 0.0


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    """In the measured process: the same source, pipeline and file format as the asset."""
    import resource

    import duckdb

    os.environ["DESTINATION__DUCKDB__CREDENTIALS"] = spec["db"]
    os.environ.pop("STRIPE_DESTINATION", None)
    from stripe_assets.settings import StripeSettings
    from stripe_assets.source import CreatedWindow, stripe_source
    from stripe_assets.warehouse import build_pipeline

    started = time.perf_counter()
    _warm_imports()
    settings = StripeSettings.resolve(
        api_base=spec["base_url"],
        requests_per_second=spec.get("rps"),
        max_workers=spec.get("max_workers"),
    )
    pipeline = build_pipeline(spec["workdir"])
    pipeline.destination.capabilities()
    tables = spec.get("tables")
    source = stripe_source(CreatedWindow(spec["gte"], spec["lt"]), settings=settings, tables=tables)
    startup = time.perf_counter() - started
    cpu0 = time.process_time()
    phases = _phases(pipeline, source)
    cpu = time.process_time() - cpu0
    with duckdb.connect(spec["db"], read_only=True) as con:
        rows = {t.name: _count(con, t.name) for t in TABLES if t.name in (tables or NAMES)}
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rerun = _rerun(spec, settings) if spec.get("rerun") else {}
    return {
        "rerun": rerun,
        "rows": rows,
        **phases,
        "cpu_s": cpu,
        "startup_s": startup,
        "peak_rss_mb": max(usage, kids) / 1024,
        "settings": {"rps": settings.requests_per_second, "max_workers": settings.max_workers},
    }


def _rerun(spec: dict[str, Any], settings: Any) -> dict[str, float]:
    """The same window again into the loaded warehouse (a re-run partition or backfill):
    every row merges onto itself. Phases in seconds."""
    from stripe_assets.source import CreatedWindow, stripe_source
    from stripe_assets.warehouse import build_pipeline

    pipeline = build_pipeline(spec["workdir"] + "-rerun")
    window = CreatedWindow(spec["gte"], spec["lt"])
    return _phases(pipeline, stripe_source(window, settings=settings, tables=spec.get("tables")))


def _phases(pipeline: Any, source: Any) -> dict[str, float]:
    """Extract, normalize and load `source` as the asset does; seconds per phase."""
    from stripe_assets.pages.memory import collector_tuned_for_pages
    from stripe_assets.warehouse import loader_file_format

    t0 = time.perf_counter()
    with collector_tuned_for_pages():
        pipeline.extract(source, loader_file_format=loader_file_format(pipeline))
        t1 = time.perf_counter()
        pipeline.normalize()
        t2 = time.perf_counter()
        pipeline.load()
    t3 = time.perf_counter()
    return {"extract_s": t1 - t0, "normalize_s": t2 - t1, "load_s": t3 - t2}


def _warm_imports() -> None:
    """Import what dlt imports lazily during a run, so the phases time work, not the
    compilation of modules (this environment runs without .pyc files): reported apart."""
    import importlib

    for name in (
        "pyarrow.parquet", "pyarrow.fs", "dlt.common.libs.pyarrow",
        "dlt.common.libs.sql_alchemy_compat", "dlt.destinations.impl.duckdb.sql_client",
        "dlt.destinations.impl.duckdb.duck", "dlt.destinations.insert_job_client",
        "pendulum.locales.en",
    ):  # fmt: skip
        importlib.import_module(name)


def _count(con: Any, table: str) -> int:
    try:
        return int(con.execute(f"select count(*) from stripe.{table}").fetchone()[0])
    except Exception:  # no row -> no table
        return 0


class _TreeSampler:
    """Samples the run's process tree every 50 ms: page workers' CPU and the summed RSS."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.cpu: dict[int, float] = {}
        self.peak_rss = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.05):
            try:
                rss = self.root.memory_info().rss
                for kid in self.root.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        self.cpu[kid.pid] = sum(kid.cpu_times()[:2])
                        rss += kid.memory_info().rss
            except psutil.Error:
                return
            self.peak_rss = max(self.peak_rss, rss)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def measure(
    cfg: SandboxConfig,
    rps: float | None = None,
    max_workers: int | None = None,
    rerun: bool = False,
    tables: list[str] | None = None,
) -> RunFigures:
    """Serve `cfg` in a subprocess and load its whole window once (every table, or only
    `tables`), in another subprocess."""
    with running_sandbox(cfg, subprocess_mode=True) as sb, tempfile.TemporaryDirectory() as tmp:
        truth = sb.load_counts(cfg.start_ts, cfg.end_ts)  # the catalog snapshots whole
        minimum = sum(sb.minimum_requests(cfg.start_ts, cfg.end_ts, tables).values())
        sandbox = psutil.Process(sb.pid)
        cpu_before = sum(sandbox.cpu_times()[:2])
        sb.reset_stats()
        spec = {
            "base_url": sb.base_url, "gte": cfg.start_ts,
            "lt": cfg.end_ts, "rps": rps, "max_workers": max_workers,
            "workdir": str(Path(tmp) / "dlt"), "db": str(Path(tmp) / "bench.duckdb"),
            "rerun": rerun, "tables": tables,
        }  # fmt: skip
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", MODULE, json.dumps(spec)], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env={**os.environ, "STRIPE_API_KEY": sb.api_key},
        )  # fmt: skip
        tree = _TreeSampler(proc.pid)
        stdout, stderr = proc.communicate()
        tree.stop()
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"benchmark run failed:\n{stderr[-3000:]}")
        out = json.loads(stdout.strip().splitlines()[-1])
        stats = sb.stats()
        sandbox_cpu = sum(sandbox.cpu_times()[:2]) - cpu_before
    rows = out["rows"]
    expected = {t.name: int(truth.get(t.name, 0)) for t in TABLES if t.name in (tables or NAMES)}
    phases = out["extract_s"] + out["normalize_s"] + out["load_s"]
    return RunFigures(
        rows=sum(rows.values()),
        truth=sum(expected.values()),
        exact=rows == expected,
        extract_s=out["extract_s"],
        normalize_s=out["normalize_s"],
        load_s=out["load_s"],
        wall_s=phases,
        peak_rss_mb=out["peak_rss_mb"],
        cpu_s=out["cpu_s"],
        sandbox_cpu_s=sandbox_cpu,
        workers_cpu_s=sum(tree.cpu.values()),
        tree_peak_rss_mb=max(tree.peak_rss / 2**20, out["peak_rss_mb"]),
        requests=int(stats.get("total", 0)),
        rate_limited=int(stats.get("by_status", {}).get("429", 0)),
        min_requests=minimum,
        extra={
            "process_wall_s": wall,
            "rerun": out["rerun"],
            "startup_s": out["startup_s"],
            **out["settings"],
        },
    )


if __name__ == "__main__":
    result = _child(json.loads(sys.argv[1]))
    print(json.dumps(result))
