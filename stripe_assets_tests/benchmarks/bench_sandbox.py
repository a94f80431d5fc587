"""Sandbox benchmark: >= 1,000,000 objects, memory, generation time and full-page throughput.

Run: ``python -m stripe_assets_tests.benchmarks.bench_sandbox [--scale 60] [--connections 4]``

The server runs in its own process (``running_sandbox(..., subprocess_mode=True)``); the client
runs in another process with one keep-alive connection per thread, each walking its share of
the pages with ``limit=100`` and ``starting_after``. Every endpoint is walked twice: ``cold``
(its first walk since start-up) then ``warm``. The sandbox renders every object at start-up
(``--no-prerender``: each table on its first read, inside the cold walk). Per phase it
prints wall pages/s and the server's CPU time per page (user + system, so also the kernel's
socket work); ``srv-cpu pages/s`` = pages per second of server CPU, the server's own limit
when it has a core to itself. On a 2-core machine the client competes with the server for the
cores, so wall figures understate the server.

Top-level lists are sliced by ``created`` across the connections; child lists
(``/v1/invoices/{id}/lines``, ``/v1/subscription_items?subscription=``,
``/v1/balance_transactions?payout=``) are walked on a second, fresh server for parents found by
a (not timed) listing: invoices with at least 100 lines, subscriptions with more than 10 items
(at most 30, so those pages are never full) and every payout.
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

Walk = tuple[str, dict[str, Any]]


def _walk(
    conn: http.client.HTTPConnection, key: str, path: str, params: dict[str, Any], keep: Any = None
) -> tuple[int, int, int]:
    """Walk one list with limit=100; returns (pages, objects, bytes). ``keep(obj)`` sees
    every object when given."""
    headers = {"Authorization": f"Bearer {key}"}
    pages = objects = nbytes = 0
    p = dict(params, limit=100)
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
        if keep is not None:
            for obj in page["data"]:
                keep(obj)
        if not page["has_more"]:
            return pages, objects, nbytes
        p["starting_after"] = page["data"][-1]["id"]


def _connect(base_url: str) -> http.client.HTTPConnection:
    u = urlsplit(base_url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=120)


def _walk_all(base_url: str, key: str, walks: list[Walk]) -> tuple[int, int, int]:
    conn = _connect(base_url)
    try:
        totals = [_walk(conn, key, path, params) for path, params in walks]
    finally:
        conn.close()
    return sum(t[0] for t in totals), sum(t[1] for t in totals), sum(t[2] for t in totals)


def run_phase(base_url: str, key: str, shares: list[list[Walk]]) -> dict:
    """Client process: one thread (and connection) per share of walks."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(shares)) as pool:
        results = list(pool.map(lambda s: _walk_all(base_url, key, s), shares))
    wall = time.perf_counter() - t0
    return {
        "wall": wall,
        "client_cpu": time.process_time() - c0,
        "pages": sum(r[0] for r in results),
        "objects": sum(r[1] for r in results),
        "bytes": sum(r[2] for r in results),
    }


def find_parents(base_url: str, key: str) -> dict[str, list[str]]:
    """Client process: ids of invoices with >= 100 lines, subscriptions with > 10 items and
    all automatic payouts (one walk of each list; not timed)."""
    out: dict[str, list[str]] = {"invoices": [], "subscriptions": [], "payouts": []}
    conn = _connect(base_url)
    try:
        _walk(
            conn,
            key,
            "/v1/invoices",
            {},
            lambda o: o["lines"]["total_count"] >= 100 and out["invoices"].append(o["id"]),
        )
        _walk(
            conn,
            key,
            "/v1/subscriptions",
            {"status": "all"},
            lambda o: o["items"]["total_count"] > 10 and out["subscriptions"].append(o["id"]),
        )
        _walk(
            conn,
            key,
            "/v1/payouts",
            {},
            lambda o: o["automatic"] and out["payouts"].append(o["id"]),
        )
    finally:
        conn.close()
    return out


def _slices(start: int, end: int, n: int, path: str, extra: dict[str, Any]) -> list[list[Walk]]:
    edges = [start + (end - start) * i // n for i in range(n + 1)]
    return [
        [(path, {**extra, "created[gte]": a, "created[lt]": b})]
        for a, b in itertools.pairwise(edges)
    ]


def _deal(walks: list[Walk], n: int) -> list[list[Walk]]:
    shares: list[list[Walk]] = [[] for _ in range(n)]
    for i, w in enumerate(walks):
        shares[i % n].append(w)
    return [s for s in shares if s]


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return psutil.Process(pid).memory_info().rss / 2**20


TOP = [
    ("/v1/charges", {}),
    ("/v1/customers", {}),
    ("/v1/balance_transactions", {}),
    ("/v1/subscriptions", {"status": "all"}),
    ("/v1/invoices", {}),
]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=60.0)
    ap.add_argument("--start", default="2024-01-01")
    ap.add_argument("--end", default="2024-03-01")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument(
        "--no-prerender",
        dest="prerender",
        action="store_false",
        help="render each table on first read instead of at start-up",
    )
    args = ap.parse_args(argv)
    cfg = SandboxConfig(
        seed=42, start=args.start, end=args.end, scale=args.scale, prerender=args.prerender
    )
    n = args.connections
    rows: list[tuple[str, str, float]] = []
    peaks: list[float] = []
    print(f"pages of limit=100, {n} keep-alive connections, client in its own process")
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as client:
        client.submit(time.sleep, 0).result()  # warm up the client process
        # top-level lists on one server; child lists on a fresh one (with --no-prerender the
        # untimed listing of their parents renders the child tables, so their cold is warm)
        for part in ("top", "children"):
            t0 = time.perf_counter()
            with running_sandbox(cfg, subprocess_mode=True, timeout=600) as sb:
                startup = time.perf_counter() - t0
                server = psutil.Process(sb.pid)
                if part == "top":
                    info = sb.info()
                    print(f"objects held:        {info['objects']:,}  {info['tables']}")
                    print(
                        f"generation time:     {info['generation_seconds']:.1f} s, of which "
                        f"rendering every object {info['render_seconds']:.1f} s "
                        f"(process start to ready: {startup:.1f} s)"
                    )
                    print(f"server RSS at ready: {server.memory_info().rss / 2**20:.0f} MB\n")
                    print(
                        f"{'endpoint':42}{'phase':>6}{'pages':>7}{'obj/page':>9}"
                        f"{'wall pages/s':>13}{'srv cpu/page':>14}{'srv-cpu pages/s':>16}"
                        f"{'client cpu':>11}"
                    )

                def phases(
                    name: str,
                    shares: list[list[Walk]],
                    sb: Any = sb,
                    server: psutil.Process = server,
                ) -> None:
                    for phase in ("cold", "warm"):
                        c0 = sum(server.cpu_times()[:2])
                        r = client.submit(run_phase, sb.base_url, sb.api_key, shares).result()
                        srv_cpu = sum(server.cpu_times()[:2]) - c0
                        pages = r["pages"]
                        rows.append((name, phase, pages / srv_cpu))
                        print(
                            f"{name:42}{phase:>6}{pages:7d}{r['objects'] / pages:9.0f}"
                            f"{pages / r['wall']:13.0f}{srv_cpu / pages * 1000:11.2f} ms"
                            f"{pages / srv_cpu:16.0f}{r['client_cpu']:9.1f} s",
                            flush=True,
                        )

                if part == "top":
                    for path, extra in TOP:
                        label = path + (f"?{urlencode(extra)}" if extra else "")
                        phases(label, _slices(cfg.start_ts, cfg.end_ts, n, path, extra))
                else:
                    parents = client.submit(find_parents, sb.base_url, sb.api_key).result()
                    inv, subs, pos = (
                        parents["invoices"],
                        parents["subscriptions"],
                        parents["payouts"],
                    )
                    phases(
                        f"/v1/invoices/{{id}}/lines ({len(inv)} inv.)",
                        _deal([(f"/v1/invoices/{i}/lines", {}) for i in inv], n),
                    )
                    phases(
                        f"/v1/subscription_items ({len(subs)} subs)",
                        _deal([("/v1/subscription_items", {"subscription": s}) for s in subs], n),
                    )
                    phases(
                        f"/v1/balance_transactions?payout= ({len(pos)})",
                        _deal([("/v1/balance_transactions", {"payout": p}) for p in pos], n),
                    )
                peaks.append(_peak_rss_mb(sb.pid))
    print(f"\npeak server RSS:     {max(peaks):.0f} MB (pre-rendered: {args.prerender})")
    worst = min(rows, key=lambda r: r[2])
    print(
        f"slowest phase:       {worst[0]} {worst[1]}: {worst[2]:.0f} pages per second of server CPU"
    )
    print(
        "('srv-cpu pages/s' = pages per second of server CPU (user + system): the server's own "
        "limit when it has a core to itself)"
    )


if __name__ == "__main__":
    main()
