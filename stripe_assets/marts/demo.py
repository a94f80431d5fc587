"""`make demo`'s marts step: build the stripe_marts models on the demo warehouse through
Dagster, then print MRR by month from `stripe_marts.mrr_summary`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def build_marts_and_print_mrr(env: dict[str, str], warehouse: Path, as_of: date) -> None:
    """`dagster asset materialize --select group:stripe_marts` with `as_of` (the demo's last
    day, so "this month" is the sandbox's), then the MRR-by-month table."""
    import duckdb

    from stripe_assets.marts.metrics import BY_MONTH_SQL, format_mrr_by_month

    dagster = Path(sys.executable).with_name("dagster")
    config = {"ops": {"stripe_marts": {"config": {"as_of": as_of.isoformat()}}}}
    command = [
        str(dagster) if dagster.exists() else "dagster", "asset", "materialize",
        "-m", "stripe_assets.definitions", "--select", "group:stripe_marts",
        "--config-json", json.dumps(config),
    ]  # fmt: skip
    print("\nBuilding the marts (dbt, group stripe_marts)...", flush=True)
    done = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-3000:] + done.stderr[-3000:], file=sys.stderr)
        sys.exit("The marts build failed (output above).")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(BY_MONTH_SQL).fetchall()
    print(f"\nMRR by month (stripe_marts.mrr_summary, as of {as_of}, major units)")
    print(format_mrr_by_month(rows) if rows else "(no subscription MRR in this window)")
