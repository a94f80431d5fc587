"""How long the marts take to build on a large warehouse: the ~1,000,000-object backfill of
the scale benchmark (119 days at scale 30), loaded into DuckDB once, then every stripe_marts
model built with its checks the way a user does it (`dagster asset materialize --select
group:stripe_marts`, process start to exit), plus dbt's own figure.

    .venv/bin/python -m stripe_assets_tests.benchmarks.bench_marts [--db PATH] [--days N]

`--db` keeps (or reuses) the loaded warehouse; `--days`/`--scale` shrink the load.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from stripe_assets.marts.project import PROJECT_DIR
from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets.settings import StripeSettings
from stripe_assets.source import CreatedWindow
from stripe_assets_tests.conftest import load_window

REPO = Path(__file__).resolve().parents[2]


def marts_sources() -> list[str]:
    """The Stripe tables the marts read (the dbt project's sources): the benchmark loads only
    those, as the per-customer child lists the marts never read would make the load 10 times
    longer and change nothing in the build."""
    import yaml

    sources = yaml.safe_load((PROJECT_DIR / "models" / "staging" / "sources.yml").read_text())
    return [t["name"] for source in sources["sources"] for t in source["tables"]]


def load(db: Path, days: int, scale: float) -> float:
    end = date(2024, 1, 1) + timedelta(days=days)
    cfg = SandboxConfig(seed=42, start="2024-01-01", end=end.isoformat(), scale=scale)
    with running_sandbox(cfg, subprocess_mode=True) as sb:
        settings = StripeSettings.resolve(
            api_key=sb.api_key, api_base=sb.base_url, requests_per_second=100_000
        )
        started = time.perf_counter()
        load_window(db, CreatedWindow(cfg.start_ts, cfg.end_ts), settings, tables=marts_sources())
        return time.perf_counter() - started


def objects(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'stripe' "
            "and table_name not like '_dlt%'"
        ).fetchall()
        return sum(con.execute(f"select count(*) from stripe.{t}").fetchone()[0] for (t,) in tables)


def build(db: Path, home: Path) -> tuple[float, float | None, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DESTINATION__"))}
    env.update(DAGSTER_HOME=str(home), DESTINATION__DUCKDB__CREDENTIALS=str(db))
    command = [str(Path(sys.executable).with_name("dagster")), "asset", "materialize",
               "-m", "stripe_assets.definitions", "--select", "group:stripe_marts"]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-3000:] + done.stderr[-3000:])
    found = re.search(r"Finished running .* in .*\(([\d.]+)s\)", done.stdout + done.stderr)
    summary = re.search(r"Done\. PASS=\d+ WARN=\d+ ERROR=\d+ SKIP=\d+.*TOTAL=\d+", done.stdout)
    return wall, float(found.group(1)) if found else None, summary.group(0) if summary else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_marts", description=__doc__)
    parser.add_argument("--db", type=Path, help="warehouse to keep or reuse")
    parser.add_argument("--days", type=int, default=119)
    parser.add_argument("--scale", type=float, default=30.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.duckdb"
        if not db.exists():
            print(f"Loading {args.days} days at scale {args.scale:g} into {db} ...", flush=True)
            print(f"  load: {load(db, args.days, args.scale):.1f} s", flush=True)
        print(f"Warehouse: {objects(db):,} objects", flush=True)
        for attempt in ("first build (fresh Dagster instance)", "second build"):
            home = Path(tmp) / "dagster_home"
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir()
            wall, dbt_s, summary = build(db, home)
            dbt_text = f"{dbt_s:.1f} s" if dbt_s is not None else "?"
            print(f"  {attempt}: {wall:.1f} s process start to exit; dbt models and tests "
                  f"{dbt_text}; {summary}", flush=True)  # fmt: skip
        with duckdb.connect(str(db), read_only=True) as con:
            rows = {
                m: con.execute(f"select count(*) from stripe_marts.{m}").fetchone()[0]
                for m in ("mrr_by_subscription_item", "invoice_line_item_details",
                          "daily_overview", "balance_transaction_details")
            }  # fmt: skip
        print("  rows: " + ", ".join(f"{m} {n:,}" for m, n in rows.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
