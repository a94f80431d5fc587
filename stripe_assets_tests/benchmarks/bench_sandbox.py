"""Sandbox benchmark: >= 1,000,000 objects, memory, generation time and full-page throughput.

Run: ``python -m stripe_assets_tests.benchmarks.bench_sandbox [--scale 60] [--connections 4]``

The server runs in its own process (``running_sandbox(..., subprocess_mode=True)``); the client
runs in another process with one keep-alive connection per thread, each walking a slice of the
created range with ``limit=100`` and ``starting_after``. Both processes' CPU time is reported,
since on a 2-core machine they compete for the same cores.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import psutil

from stripe_assets.sandbox import SandboxConfig, running_sandbox


def _walk(base_url: str, key: str, path: str, params: dict[str, Any]) -> tuple[int, int, int]:
    """Walk one list with limit=100; returns (pages, objects, bytes)."""
    u = urlsplit(base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    headers = {"Authorization": f"Bearer {key}"}
    pages = objects = nbytes = 0
    p = dict(params, limit=100)
    try:
        while True:
            conn.request("GET", f"{path}?{urlencode(p)}", headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"{path} -> {resp.status}: {body[:200]!r}")
            page = orjson.loads(body)
            pages += 1
            objects += len(page["data"])
            nbytes += len(body)
            if not page["has_more"]:
                return pages, objects, nbytes
            p["starting_after"] = page["data"][-1]["id"]
    finally:
        conn.close()


def run_phase(base_url: str, key: str, path: str, slices: list[dict[str, Any]]) -> dict:
    """Client process: one thread (and connection) per slice."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(slices)) as pool:
        results = list(pool.map(lambda s: _walk(base_url, key, path, s), slices))
    wall = time.perf_counter() - t0
    return {
        "wall": wall,
        "client_cpu": time.process_time() - c0,
        "pages": sum(r[0] for r in results),
        "objects": sum(r[1] for r in results),
        "bytes": sum(r[2] for r in results),
    }


def _slices(start: int, end: int, n: int, extra: dict[str, Any]) -> list[dict[str, Any]]:
    edges = [start + (end - start) * i // n for i in range(n + 1)]
    return [{**extra, "created[gte]": a, "created[lt]": b} for a, b in itertools.pairwise(edges)]


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return psutil.Process(pid).memory_info().rss / 2**20


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=60.0)
    ap.add_argument("--start", default="2024-01-01")
    ap.add_argument("--end", default="2024-03-01")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--cache-mb", type=int, default=768)
    args = ap.parse_args(argv)
    cfg = SandboxConfig(seed=42, start=args.start, end=args.end, scale=args.scale,
                        cache_mb=args.cache_mb)
    t0 = time.perf_counter()
    with running_sandbox(cfg, subprocess_mode=True, timeout=600) as sb:
        startup = time.perf_counter() - t0
        info = sb.info()
        server = psutil.Process(sb.pid)
        print(f"objects held:        {info['objects']:,}  {info['tables']}")
        print(f"generation time:     {info['generation_seconds']:.1f} s "
              f"(process start to ready: {startup:.1f} s)")
        print(f"server RSS at ready: {server.memory_info().rss / 2**20:.0f} MB")
        phases = [
            ("charges (cold)", "/v1/charges", {}),
            ("charges (warm)", "/v1/charges", {}),
            ("customers (cold)", "/v1/customers", {}),
            ("balance_transactions (cold)", "/v1/balance_transactions", {}),
            ("subscriptions (cold)", "/v1/subscriptions", {"status": "all"}),
            ("invoices (cold, 10 lines embedded)", "/v1/invoices", {}),
            ("invoices (warm)", "/v1/invoices", {}),
        ]
        print(f"\nfull pages (limit=100), {args.connections} keep-alive connections, "
              "client in its own process:")
        print(f"{'phase':38}{'pages/s':>9}{'objects/s':>11}{'MB/s':>8}{'pages':>8}"
              f"{'srv cpu/page':>14}{'srv-cpu pages/s':>17}{'client cpu':>12}")
        ctx = get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=ctx) as client:
            client.submit(time.sleep, 0).result()  # warm up the client process
            for name, path, extra in phases:
                slices = _slices(cfg.start_ts, cfg.end_ts, args.connections, extra)
                c0 = sum(server.cpu_times()[:2])
                r = client.submit(run_phase, sb.base_url, sb.api_key, path, slices).result()
                srv_cpu = sum(server.cpu_times()[:2]) - c0
                print(f"{name:38}{r['pages'] / r['wall']:9.0f}{r['objects'] / r['wall']:11.0f}"
                      f"{r['bytes'] / r['wall'] / 2**20:8.1f}{r['pages']:8d}"
                      f"{srv_cpu / r['pages'] * 1000:11.2f} ms{r['pages'] / srv_cpu:17.0f}"
                      f"{r['client_cpu']:10.1f} s")
        print(f"\npeak server RSS:     {_peak_rss_mb(sb.pid):.0f} MB")
        print("('srv-cpu pages/s' = pages per second of server CPU: the server's own limit when "
              "it has a core to itself)")


if __name__ == "__main__":
    main()
