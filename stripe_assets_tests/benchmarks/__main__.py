"""The benchmark suite: `python -m stripe_assets_tests.benchmarks` (or `make bench`).

Prints figures, asserts nothing about times:
  1. CPU throughput at zero sandbox latency (rows/s, peak RSS, extract/normalize/load split,
     CPU seconds of our process, its page workers and the sandbox), then the same window
     re-run into the loaded warehouse (the merge of every row onto itself);
  2. rate-limited runs with 250±50 ms latency at 25 and 100 req/s: wall time, requests, 429s
     and wall / (minimum requests / rate limit) (goal <= 1.15);
  3. peers (bench_peers: Singer tap-stripe, Airbyte source-stripe) when their venvs exist;
  4. scale: a ~1,000,000-object backfill at zero latency, with peak RSS (goal < 1 GB);
  5. first load through Dagster (bench_first_load): a single-run backfill of one and of three
     years, all tables, 250 ms +- 50%, 25 and 100 req/s, on SQLite and Postgres storage:
     wall time, its split, requests, bound, ratio, bookkeeping per (table, day); the peers'
     year-long case runs in 3.

Options: --quick (smaller volumes, no scale run, first load: one year at 100 req/s),
--skip cpu,rate,peers,scale,first_load.
"""

from __future__ import annotations

import argparse
import itertools
import sys

from stripe_assets.sandbox import SandboxConfig
from stripe_assets.tables import TABLES
from stripe_assets_tests.benchmarks.harness import EIGHT, RunFigures, measure


def _line(label: str, f: RunFigures) -> str:
    exact = "exact" if f.exact else f"MISMATCH {f.rows} vs truth {f.truth}"
    return (
        f"{label}: {f.rows:,} rows ({exact}) in {f.wall_s:.1f} s = {f.rows_per_s:,.0f} rows/s; "
        f"extract {f.extract_s:.1f} s, normalize {f.normalize_s:.1f} s, load {f.load_s:.1f} s; "
        f"peak RSS {f.peak_rss_mb:,.0f} MB (with page workers {f.tree_peak_rss_mb:,.0f} MB); "
        f"CPU ours {f.cpu_s:.1f} s + page workers {f.workers_cpu_s:.1f} s, "
        f"sandbox {f.sandbox_cpu_s:.1f} s; {f.requests} requests, {f.rate_limited} x 429; "
        f"process start-up (imports, pipeline) {f.extra['startup_s']:.1f} s apart; "
        f"max_workers {f.extra['max_workers']}"
    )


MIXES = (("the 8 tables of earlier releases", EIGHT), (f"all {len(TABLES)} tables", None))


def cpu(quick: bool) -> None:
    print("\n## 1. CPU throughput, zero latency, no rate limit (budget 100,000 req/s)")
    cfg = SandboxConfig(seed=42, start="2024-01-01", end="2024-01-31",
                        scale=10.0 if quick else 30.0)  # fmt: skip
    for label, tables in MIXES:
        f = measure(cfg, rps=100_000, tables=tables)
        print(_line(f"{label}, 30 days at scale {cfg.scale:g}", f))
    again = measure(cfg, rps=100_000, rerun=True).extra["rerun"]  # a second process
    print(
        f"   re-run of the same window into the loaded warehouse (every row merges onto "
        f"itself): extract {again['extract_s']:.1f} s, normalize {again['normalize_s']:.1f} s, "
        f"load {again['load_s']:.1f} s"
    )


def rate(quick: bool) -> None:
    print("\n## 2. Rate-limited runs, latency 250±50 ms (sandbox limit = our budget)")
    # In flight needed: rate x latency (~25 at 100 req/s); default max_workers = rate / 2.
    # The last run is three times the volume: normalize and load (~1.3 s after extraction,
    # which dlt does not overlap with it) weigh less in a longer run.
    runs = [(25.0, 3.0 if quick else 6.0, None), (100.0, 10.0 if quick else 20.0, None)]
    if not quick:
        runs.append((100.0, 60.0, None))
    for (limit, scale, workers), (label, tables) in itertools.product(runs, MIXES):
        cfg = SandboxConfig(seed=42, start="2024-01-01", end="2024-01-15", scale=scale,
                            latency_ms=250, jitter_ms=50, rate_limit=limit)  # fmt: skip
        f = measure(cfg, rps=limit, max_workers=workers, tables=tables)
        bound = f.min_requests / limit
        print(_line(f"{label}, {limit:g} req/s, 14 days at scale {scale:g}", f))
        print(
            f"   minimum requests {f.min_requests}, made {f.requests} "
            f"({f.requests - f.min_requests:+d}); bound {bound:.1f} s; "
            f"extract / bound = {f.extract_s / bound:.2f}, whole run / bound = "
            f"{f.wall_s / bound:.2f}; max_workers {f.extra['max_workers']}"
        )


def peers() -> None:
    print("\n## 3. Peers (Singer tap-stripe, Airbyte source-stripe)")
    from stripe_assets_tests.benchmarks import bench_peers
    from stripe_assets_tests.benchmarks.peers import PEERS, venv_ready

    ready = [p for p in PEERS if venv_ready(p)]
    if not ready:
        print("skipped: no peer venv (create them with `python -m "
              "stripe_assets_tests.benchmarks.bench_peers`)")  # fmt: skip
        return
    tools = ",".join(["ours", *ready])
    bench_peers.main(["--no-install", "--tools", tools])
    print("\n   the year-long first load (ours through Dagster, process start to exit):")
    bench_peers.main(["--no-install", "--tools", tools, "--year"])


def scale() -> None:
    print("\n## 4. Scale: ~1,000,000-object backfill, zero latency")
    cfg = SandboxConfig(seed=42, start="2024-01-01", end="2024-04-30", scale=30.0)
    # The eight tables: all 41 would be 2 million rows and 160,000 requests, most of them one
    # per customer for its payment methods and balance transactions (bounded by Stripe's
    # rate, not by us: see section 2).
    print(_line("119 days at scale 30, the 8 tables", measure(cfg, rps=100_000, tables=EIGHT)))


def first_load(quick: bool) -> None:
    print("\n## 5. First load through Dagster, single run, 250±125 ms")
    from stripe_assets_tests.benchmarks import bench_first_load

    bench_first_load.main(["--years", "1", "--rates", "100"] if quick else [])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument("--skip", default="", help="comma list of cpu,rate,peers,scale,first_load")
    args = p.parse_args(argv)
    skip = set(args.skip.split(","))
    if "cpu" not in skip:
        cpu(args.quick)
    if "rate" not in skip:
        rate(args.quick)
    if "peers" not in skip:
        peers()
    if "scale" not in skip and not args.quick:
        scale()
    if "first_load" not in skip:
        first_load(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
