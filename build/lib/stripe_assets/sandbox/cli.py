"""``stripe-assets sandbox`` / ``python -m stripe_assets.sandbox``: serve a sandbox until
SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from .config import DEFAULT_API_KEY, FAULT_KINDS, SandboxConfig


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stripe-assets sandbox",
        description="Serve a deterministic, fault-injecting Stripe API on loopback.",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=12111, help="port, 0 = any free (default 12111)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--start", default="2024-04-01", help="first UTC day of data (YYYY-MM-DD)")
    p.add_argument("--end", default="2024-05-01", help="UTC day after the last (exclusive)")
    p.add_argument("--scale", type=float, default=1.0, help="volume multiplier (1.0 ~ 150/day)")
    p.add_argument("--api-key", default=DEFAULT_API_KEY, help=f"default {DEFAULT_API_KEY}")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--spike-rate", type=float, default=0.0)
    p.add_argument("--spike-ms", type=float, default=0.0)
    p.add_argument("--rate-limit", type=float, default=0.0, help="requests/s, 0 = off")
    p.add_argument(
        "--retry-after", type=float, default=None, help="send Retry-After (seconds) on 429s"
    )
    p.add_argument(
        "--should-retry-header",
        action="store_true",
        help="send Stripe-Should-Retry on error responses",
    )
    p.add_argument(
        "--faults",
        default=None,
        help=f'JSON or kind=p,... e.g. "500=0.03,drop=0.01"; kinds: {FAULT_KINDS}',
    )
    p.add_argument(
        "--fault-rate",
        type=float,
        default=None,
        help="shorthand: this total probability split over 500/502/503/409/drop",
    )
    p.add_argument(
        "--activity-per-second",
        type=float,
        default=0.0,
        help="random background mutations per second",
    )
    p.add_argument("--event-retention-days", type=int, default=30)
    p.add_argument(
        "--no-prerender",
        dest="prerender",
        action="store_false",
        help="render each table on its first read instead of at start-up",
    )
    p.add_argument("--clock-offset", type=float, default=0.0, help="initial clock offset (s)")
    p.add_argument(
        "--ready-json",
        action="store_true",
        help="also print one 'SANDBOX_READY {json}' line when listening",
    )
    return p


def parse_faults(text: str | None, rate: float | None) -> dict[str, float]:
    faults: dict[str, float] = {}
    if rate:
        kinds = ("500", "502", "503", "409", "drop")
        faults = {k: rate / len(kinds) for k in kinds}
    if text:
        text = text.strip()
        if text.startswith("{"):
            faults.update({str(k): float(v) for k, v in json.loads(text).items()})
        else:
            for part in filter(None, (x.strip() for x in text.split(","))):
                kind, _, p = part.partition("=")
                faults[kind.strip()] = float(p)
    return faults


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        seed=args.seed,
        start=args.start,
        end=args.end,
        scale=args.scale,
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        rate_limit=args.rate_limit,
        faults=parse_faults(args.faults, args.fault_rate),
        spike_rate=args.spike_rate,
        spike_ms=args.spike_ms,
        retry_after=args.retry_after,
        should_retry_header=args.should_retry_header,
        activity_per_second=args.activity_per_second,
        clock_offset=args.clock_offset,
        event_retention_days=args.event_retention_days,
        prerender=args.prerender,
    )


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, build the data, serve until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        raise SystemExit(f"stripe-assets sandbox: {exc}") from None
    from .core import Sandbox
    from .server import new_event_loop, serve

    print(
        f"Generating sandbox data (seed={cfg.seed}, {cfg.start}..{cfg.end}, scale={cfg.scale}) ...",
        file=sys.stderr,
        flush=True,
    )
    sb = Sandbox(cfg)
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    stop = asyncio.Event()

    def on_ready(host: str, port: int) -> None:
        base_url = f"http://{host}:{port}"
        print(
            f"Stripe sandbox listening on {base_url}  (API key: {cfg.api_key}; "
            f"{sb.data.total_objects():,} objects generated in "
            f"{sb.generation_seconds:.1f}s)",
            flush=True,
        )
        print(f"  STRIPE_API_BASE={base_url}  STRIPE_API_KEY={cfg.api_key}", flush=True)
        if args.ready_json:
            print(
                "SANDBOX_READY " + json.dumps({"base_url": base_url, "api_key": cfg.api_key}),
                flush=True,
            )

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        loop.run_until_complete(serve(sb, cfg.host, cfg.port, on_ready, stop))
    finally:
        loop.close()
    print("Stripe sandbox stopped.", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
