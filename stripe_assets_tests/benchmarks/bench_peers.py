"""Side-by-side benchmark: our dlt source vs Singer tap-stripe vs Airbyte source-stripe.

One sandbox (same seed, window, latency and rate limit for all); each tool runs as its own
subprocess against it, one after the other. Prints wall time, the ratio to ours, requests and
429s (from the sandbox's stats) and rows per table against the sandbox's ground truth. It
asserts nothing about times.

    .venv/bin/python -m stripe_assets_tests.benchmarks.bench_peers \
        --days 7 --scale 1.0 --latency-ms 250 --jitter-ms 50 --rate-limit 25

`--ours dagster` runs ours as a user's first load does: `dagster asset materialize` of the
window's daily partitions in one run on a fresh instance with the shipped settings (process
start to exit, Dagster's bookkeeping included); `--year` is the year-long case (2024, scale
0.1, 250 ms +- 50%, 100 req/s, ours through Dagster).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from stripe_assets_tests.benchmarks.peers import (
    AIRBYTE,
    IMPORTS,
    PEERS,
    RUNNERS,
    TAP,
    PeerRun,
    ensure_venv,
    import_seconds,
    peer_version,
    venv_python,
    venv_ready,
)

TABLES = (
    ("charges", "charges"),
    ("customers", "customers"),
    ("invoices", "invoices"),
    ("invoice_line_items", "inv_lines"),
    ("subscriptions", "subs"),
    ("subscription_items", "sub_items"),
    ("payouts", "payouts"),
    ("payout_transactions", "payout_txns"),
)
OURS = "ours"
OURS_IMPORT = "import dlt, duckdb; from stripe_assets.source import stripe_source"
MODULE = "stripe_assets_tests.benchmarks.bench_peers"
REPO = Path(__file__).resolve().parents[2]
TOOLS = (OURS, TAP, AIRBYTE)


# --- ours, in a child process (so it does not share the sandbox's GIL) ------------------


def _ours_child(spec: dict[str, Any]) -> dict[str, Any]:
    import dlt
    import duckdb

    from stripe_assets.settings import StripeSettings
    from stripe_assets.source import CreatedWindow, stripe_source

    tmp = spec["workdir"]
    settings = StripeSettings.resolve(
        api_key=spec["api_key"], api_base=spec["base_url"], requests_per_second=spec["rps"]
    )
    source = stripe_source(CreatedWindow(spec["gte"], spec["lt"]), settings=settings)
    db = f"{tmp}/bench_warehouse.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="bench",
        pipelines_dir=tmp,
        destination=dlt.destinations.duckdb(credentials=db),
        dataset_name="stripe",
    )
    t0 = time.perf_counter()
    pipeline.extract(source, loader_file_format="parquet")  # as pipeline.run(..., parquet)
    t1 = time.perf_counter()
    pipeline.normalize()
    pipeline.load()
    t2 = time.perf_counter()
    rows = {}
    with duckdb.connect(db, read_only=True) as con:
        for table, _ in TABLES:
            try:
                rows[table] = con.execute(f"select count(*) from stripe.{table}").fetchone()[0]
            except duckdb.CatalogException:
                rows[table] = 0
    return {"extract_s": t1 - t0, "normalize_load_s": t2 - t1, "rows": rows}


def run_ours(base_url: str, api_key: str, gte: int, lt: int, rps: float, workdir: Path) -> PeerRun:
    spec = {"base_url": base_url, "api_key": api_key, "gte": gte, "lt": lt, "rps": rps}
    spec["workdir"] = str(workdir)
    log = workdir / "ours.stderr.log"
    cmd = [sys.executable, "-m", MODULE, "--ours-child", json.dumps(spec)]
    started = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO)
    wall = time.perf_counter() - started
    lines = proc.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if proc.returncode == 0 and lines else {}
    errors = [] if result else [" | ".join(log.read_text().strip().splitlines()[-3:])[-300:]]
    return PeerRun(
        tool=OURS,
        wall_s=wall,
        returncode=proc.returncode,
        rows=result.get("rows", {}),
        errors=errors,
        log=log,
        extra={k: v for k, v in result.items() if k.endswith("_s")},
    )


def run_ours_dagster(
    sb: Any, first_day: date, last_day: date, rps: float, workdir: Path
) -> PeerRun:
    """Ours as a user runs it: one Dagster run over the window's partitions."""
    import duckdb

    from stripe_assets_tests.benchmarks.bench_first_load import run_dagster
    from stripe_assets_tests.benchmarks.harness import _count

    run = run_dagster(sb, first_day, last_day, rps, workdir)
    rows: dict[str, int] = {}
    if run.returncode == 0:
        with duckdb.connect(str(run.warehouse), read_only=True) as con:
            rows = {table: _count(con, table) for table, _ in TABLES}
    split = {f"{k.replace(' ', '_')}_s": v for k, v in run.split.items()}
    return PeerRun(
        tool=OURS, wall_s=run.wall_s, returncode=run.returncode, rows=rows,
        errors=[] if run.returncode == 0 else [run.log.read_text()[-300:]], log=run.log,
        extra=split,
    )  # fmt: skip


# --- harness ------------------------------------------------------------------------------


def _account_id(base_url: str, api_key: str) -> str:
    req = urllib.request.Request(
        f"{base_url}/v1/account", headers={"Authorization": f"Bearer {api_key}"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return str(json.load(resp)["id"])


def _request_figures(stats: dict[str, Any]) -> tuple[int, int]:
    """(requests, 429s) from a `sb.stats()` snapshot."""
    return int(stats.get("total", 0)), int(stats.get("by_status", {}).get("429", 0))


def _median(trials: list[tuple[PeerRun, tuple[int, int]]]) -> tuple[PeerRun, tuple[int, int]]:
    """The trial with the median wall time (the lower one for an even count)."""
    ordered = sorted(trials, key=lambda t: t[0].wall_s)
    run, figures = ordered[(len(ordered) - 1) // 2]
    run.extra["walls"] = [t[0].wall_s for t in trials]
    return run, figures


def _cell(n: int | None, truth: int) -> str:
    if n is None:
        return "-"
    return str(n) if n == truth else f"{n}({n - truth:+d})"


def print_table(
    runs: list[tuple[PeerRun, tuple[int, int]]], truth: dict[str, int], header: str
) -> None:
    heads = ["tool", "wall s", "x ours", "import s", "reqs", "429s", *(s for _, s in TABLES)]
    rows = [["ground truth", "", "", "", "", "", *(str(truth[t]) for t, _ in TABLES)]]
    ours = next((r.wall_s for r, _ in runs if r.tool == OURS and not r.errors), None)
    for run, (reqs, throttled) in runs:
        ratio = f"{run.wall_s / ours:.2f}" if ours else "-"
        counts = [_cell(run.rows.get(t), truth[t]) for t, _ in TABLES]
        started = f"{run.extra['import_s']:.1f}" if "import_s" in run.extra else ""
        head = [run.tool, f"{run.wall_s:.1f}", ratio, started, str(reqs), str(throttled)]
        rows.append([*head, *counts])
        phases = ("extract", "normalize_load", "startup", "run_creation", "normalize", "load",
                  "event_writing", "checks")  # fmt: skip
        for phase in phases if run.tool == OURS else ():
            took = run.extra.get(f"{phase}_s")
            if took is not None:
                ratio = f"{took / ours:.2f}" if ours else "-"
                label = f"  ours {phase.replace('_', '+' if phase == 'normalize_load' else ' ')}"
                rows.append([label, f"{took:.1f}", ratio, *[""] * (len(heads) - 3)])
    widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]
    print(header)
    for row in [heads, *rows]:
        cells = enumerate(zip(row, widths, strict=True))
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in cells).rstrip())


def _paths(stats: dict[str, Any]) -> str:
    parts = []
    for path, counts in stats.get("by_path", {}).items():
        odd = {k: v for k, v in counts.items() if k not in ("200", "total")}
        parts.append(f"{path} {counts.get('total', 0)}" + (f" {odd}" if odd else ""))
    return ", ".join(parts)


def print_notes(runs: list[tuple[PeerRun, tuple[int, int]]]) -> None:
    for run, _ in runs:
        print(f"{run.tool}: requests by path: {run.extra.get('paths', '')}")
        walls = run.extra.get("walls", [])
        if len(walls) > 1:
            print(f"{run.tool}: wall s of each trial: {', '.join(f'{w:.1f}' for w in walls)}")
        dupes = {t: n - run.rows.get(t, 0) for t, n in run.messages.items()}
        dupes = {t: n for t, n in dupes.items() if n > 0}
        if run.event_rows:
            print(f"{run.tool}: records from its /v1/events update pass: {run.event_rows}")
        if dupes:
            print(f"{run.tool}: duplicate RECORD messages (same key twice): {dupes}")
        for error in run.errors:
            print(f"{run.tool}: ERROR (exit {run.returncode}): {error}")
        if run.log:
            print(f"{run.tool}: log {run.log}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--start", default="2024-04-01", help="first day of the window (UTC)")
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--latency-ms", type=float, default=250.0)
    p.add_argument("--jitter-ms", type=float, default=50.0)
    p.add_argument("--rate-limit", type=float, default=25.0, help="sandbox req/s (0 = none)")
    p.add_argument("--rps", type=float, default=25.0, help="our client's request budget")
    p.add_argument("--tools", default=",".join(TOOLS), help="comma list of " + ",".join(TOOLS))
    p.add_argument("--tap-no-events", action="store_true", help="skip tap-stripe's events pass")
    p.add_argument("--no-install", action="store_true", help="skip peers whose venv is missing")
    p.add_argument("--repeat", type=int, default=1, help="trials per tool; median is shown")
    p.add_argument("--timeout", type=float, default=1800.0, help="per peer, seconds")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument(
        "--ours",
        choices=("dlt", "dagster"),
        default="dlt",
        help="ours as the plain dlt pipeline, or as a Dagster run of the partitions",
    )
    p.add_argument("--year", action="store_true", help="the year-long first-load case")
    p.add_argument("--ours-child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.year:
        args.start, args.days, args.scale, args.ours = "2024-01-01", 366, 0.1, "dagster"
        args.jitter_ms, args.rate_limit, args.rps = 125.0, 100.0, 100.0
    if args.ours_child:
        print(json.dumps(_ours_child(json.loads(args.ours_child))))
        return 0

    from stripe_assets.sandbox import SandboxConfig, running_sandbox

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for tool in [t for t in tools if t in PEERS and not venv_ready(t)]:
        if args.no_install:
            print(f"skipping {tool}: no venv (run without --no-install to create it)")
            tools.remove(tool)
        else:
            ensure_venv(tool)
    load = os.getloadavg()[0]
    pythons = {OURS: sys.executable} | {t: str(venv_python(t)) for t in PEERS}
    codes = {OURS: OURS_IMPORT} | IMPORTS
    starts = {tool: import_seconds(pythons[tool], codes[tool]) for tool in tools}
    start = date.fromisoformat(args.start)
    end = start + timedelta(days=args.days)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-peers-"))
    cfg = SandboxConfig(
        seed=args.seed,
        start=start.isoformat(),
        end=end.isoformat(),
        scale=args.scale,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        rate_limit=args.rate_limit,
    )
    # The sandbox's clock sits at the window's end, as for a sync of "the last N days".
    if hasattr(cfg, "clock_offset"):
        cfg.clock_offset = cfg.end_ts - time.time()
    gte, lt = cfg.start_ts, cfg.end_ts
    trials: dict[str, list[tuple[PeerRun, tuple[int, int]]]] = {tool: [] for tool in tools}
    with running_sandbox(cfg, subprocess_mode=True) as sb:  # its own process and GIL
        truth = {t: int(sb.counts(gte, lt).get(t, 0)) for t, _ in TABLES}
        account = _account_id(sb.base_url, sb.api_key)
        for trial, tool in itertools.product(range(1, args.repeat + 1), tools):
            out = workdir / f"{tool}-{trial}"
            out.mkdir(parents=True, exist_ok=True)
            time.sleep(1.5)  # let the rate-limit window drain between tools
            sb.reset_stats()
            if tool == OURS and args.ours == "dagster":
                last = end - timedelta(days=1)
                run = run_ours_dagster(sb, start, last, args.rps, out / "dagster")
            elif tool == OURS:
                run = run_ours(sb.base_url, sb.api_key, gte, lt, args.rps, out)
            else:
                kwargs: dict[str, Any] = {"timeout_s": args.timeout}
                if tool == TAP:
                    kwargs["events"] = not args.tap_no_events
                run = RUNNERS[tool](sb.base_url, sb.api_key, account, gte, lt, out, **kwargs)
            stats = sb.stats()
            run.extra["paths"] = _paths(stats)
            run.extra["import_s"] = starts[tool]
            trials[tool].append((run, _request_figures(stats)))
            print(
                f"... {tool} #{trial}: {run.wall_s:.1f} s, exit {run.returncode}", file=sys.stderr
            )
    runs = [_median(trials[tool]) for tool in tools]
    header = (
        f"window {start}..{end} ({args.days} d), seed {args.seed}, scale {args.scale}, "
        f"latency {args.latency_ms:g}±{args.jitter_ms:g} ms, sandbox rate limit "
        f"{args.rate_limit:g} req/s, our budget {args.rps:g} req/s, ours "
        f"{'through Dagster (process start to exit)' if args.ours == 'dagster' else 'as dlt'}; "
        f"load average at start {load:.1f} on {os.cpu_count()} cores"
    )
    print()
    print_table(runs, truth, header)
    print()
    for tool in tools:
        if tool in PEERS:
            print(f"{tool}: {peer_version(tool)}")
    print_notes(runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
