"""The main job end to end on the embedded defaults: local Stripe sandbox -> `dg launch` ->
DuckDB, then row counts checked against the sandbox's ground truth. `stripe-assets dev`: the
sandbox and `dg dev` on the same data.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from stripe_assets.cli import DEFAULT_SELECT, dg_env, dg_executable
from stripe_assets.marts.demo import build_marts_and_print_mrr
from stripe_assets.run_output import CONSOLE_AT_INFO, run_streaming, run_summary, write_event_log
from stripe_assets.settings import pool_name

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_YAML = PROJECT_ROOT / "dagster_home" / "dagster.yaml"


def _parse_args(argv: list[str], prog: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--start", default="2024-05-01", help="first daily partition")
    parser.add_argument("--end", default="2024-05-07", help="last daily partition (inclusive)")
    parser.add_argument("--home", default=".demo", help="folder for DuckDB and DAGSTER_HOME")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale", type=float, default=1.0, help="sandbox data volume")
    parser.add_argument("--port", type=int, default=3000, help="Dagster UI port (dev)")
    return parser.parse_args(argv)


def _fresh_home(home: Path) -> tuple[Path, Path]:
    """A clean DAGSTER_HOME (with the shipped dagster.yaml) and warehouse path."""
    dagster_home = home / "dagster_home"
    shutil.rmtree(dagster_home, ignore_errors=True)
    dagster_home.mkdir(parents=True)
    shutil.copy(INSTANCE_YAML, dagster_home / "dagster.yaml")
    warehouse = home / "warehouse.duckdb"
    for stale in home.glob("warehouse.duckdb*"):
        stale.unlink()
    return dagster_home, warehouse


def _run_env(base_url: str, api_key: str, dagster_home: Path, warehouse: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        STRIPE_API_BASE=base_url,
        STRIPE_API_KEY=api_key,
        DAGSTER_HOME=str(dagster_home),
        DESTINATION__DUCKDB__CREDENTIALS=str(warehouse),
        STRIPE_START_DATE=env.get("STRIPE_START_DATE", "2024-01-01"),
    )
    env.pop("STRIPE_DESTINATION", None)
    return dg_env(env)


def _dagster_bin() -> str:
    candidate = Path(sys.executable).with_name("dagster")
    return str(candidate) if candidate.exists() else "dagster"


def _utc_seconds(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _warehouse_counts(warehouse: Path, tables: list[str]) -> dict[str, int]:
    """Rows per table; 0 for a table dlt never created (no row was ever loaded into it)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        present = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'stripe'"
            ).fetchall()
        }
        return {
            name: con.execute(f"select count(*) from stripe.{name}").fetchone()[0]
            if name in present
            else 0
            for name in tables
        }


def _print_counts(warehouse: Path, truth: dict[str, int]) -> bool:
    """The count table; False when a table's rows differ from the sandbox's count. A table
    the sandbox has no count for is shown as `n/a` and named below the table."""
    from stripe_assets.tables import TABLES

    rows = _warehouse_counts(warehouse, [t.name for t in TABLES])
    width = max(22, *(len(t.name) + 2 for t in TABLES))
    print(f"\n{'table':<{width}}{'rows in DuckDB':>16}{'sandbox truth':>16}")
    mismatched, unknown = [], []
    for name, count in rows.items():
        expected = truth.get(name)
        if expected is None:
            unknown.append(name)
        elif count != expected:
            mismatched.append(name)
        shown = "n/a" if expected is None else f"{expected:,}"
        mark = "  MISMATCH" if name in mismatched else ""
        print(f"{name:<{width}}{count:>16,}{shown:>16}{mark}", flush=True)
    if unknown:
        print(f"(the sandbox reports no count for {', '.join(unknown)}: not compared)")
    return not mismatched


def main(argv: list[str] | None = None) -> None:
    """`stripe-assets demo`: materialize every asset for a range of daily partitions."""
    from stripe_assets.sandbox import SandboxConfig, running_sandbox

    args = _parse_args(argv or [], "stripe-assets demo")
    first, last = date.fromisoformat(args.start), date.fromisoformat(args.end)
    home = Path(args.home).resolve()
    dagster_home, warehouse = _fresh_home(home)
    event_log = home / "dagster-events.log"
    config = SandboxConfig(
        seed=args.seed,
        start=first.isoformat(),
        end=(last + timedelta(days=1)).isoformat(),
        scale=args.scale,
    )
    print(f"Starting the local Stripe sandbox (seed {args.seed}, {first} to {last})...", flush=True)
    with running_sandbox(config) as sandbox:
        env = _run_env(sandbox.base_url, sandbox.api_key, dagster_home, warehouse)
        command = [
            dg_executable(), "launch", "--assets", DEFAULT_SELECT,
            "--partition-range", f"{first}...{last}", "--config-json", json.dumps(CONSOLE_AT_INFO),
        ]  # fmt: skip
        shown = shlex.join(["dg", *command[1:6]])  # the console setting is ours, not the user's
        print(f"Sandbox at {sandbox.base_url}. Running: {shown}", flush=True)
        code = run_streaming(command, env, PROJECT_ROOT)
        truth = sandbox.load_counts(_utc_seconds(first), _utc_seconds(last + timedelta(days=1)))
    summary = _write_event_log(dagster_home, event_log)
    print(f"\nDagster: {summary}\nFull event log (every event, DEBUG included): {event_log}")
    if code != 0:
        sys.exit(f"`dg launch` failed with exit code {code}; see {event_log}.")
    ok = _print_counts(warehouse, truth)
    build_marts_and_print_mrr(env, warehouse, last)
    print(
        f"\nWarehouse: {warehouse}\nDagster instance: {dagster_home}\n"
        "Open the UI on the same data with:  .venv/bin/stripe-assets dev\n"
        "(starts the sandbox and `dg dev` on http://127.0.0.1:3000; Ctrl-C stops both)"
    )
    if not ok:
        sys.exit("Row counts differ from the sandbox's ground truth.")


def _write_event_log(dagster_home: Path, path: Path) -> str:
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        write_event_log(instance, path)
        return run_summary(instance)


def dev_main(argv: list[str] | None = None) -> None:
    """`stripe-assets dev`: the sandbox plus `dg dev`, wired together."""
    from stripe_assets.sandbox import SandboxConfig, running_sandbox

    args = _parse_args(argv or [], "stripe-assets dev")
    home = Path(args.home).resolve()
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    if not (dagster_home / "dagster.yaml").exists():
        shutil.copy(INSTANCE_YAML, dagster_home / "dagster.yaml")
    warehouse = home / "warehouse.duckdb"
    first, last = date.fromisoformat(args.start), date.fromisoformat(args.end)
    config = SandboxConfig(
        seed=args.seed,
        start=first.isoformat(),
        end=(last + timedelta(days=1)).isoformat(),
        scale=args.scale,
    )
    # A shell that starts us in the background ignores SIGINT; take it back so Ctrl-C (or
    # `kill -INT`) reaches us, and `dg dev` (which stops on SIGINT only) starts with it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
    with running_sandbox(config) as sandbox:
        env = _run_env(sandbox.base_url, sandbox.api_key, dagster_home, warehouse)
        # A fresh instance only applies the pool's default limit after it has seen the pool
        # once; set it now so the first queued runs on one DuckDB file already go one by one.
        pool_limit = [_dagster_bin(), "instance", "concurrency", "set", pool_name(), "1"]
        subprocess.run(pool_limit, env=env, check=True, cwd=PROJECT_ROOT, capture_output=True)
        command = [dg_executable(), "dev", "-h", "127.0.0.1", "-p", str(args.port)]
        print(f"Sandbox at {sandbox.base_url}; Dagster UI on http://127.0.0.1:{args.port}")
        process = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT)
        try:
            process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)  # `dg dev` stops cleanly on SIGINT only
            process.wait()
