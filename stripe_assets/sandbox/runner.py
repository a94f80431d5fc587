"""``running_sandbox()``: start a sandbox in a background thread (or a subprocess) and talk to it.

The handle's helpers go through the ``/_sandbox`` HTTP endpoints, so they behave the same in
both modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .config import SandboxConfig


class SandboxHandle:
    """A running sandbox: ``base_url``, ``api_key`` and admin helpers."""

    def __init__(self, base_url: str, config: SandboxConfig, pid: int | None = None) -> None:
        self.base_url = base_url
        self.api_key = config.api_key
        self.config = config
        self.pid = pid  # server process id in subprocess mode

    # -- admin over HTTP ---------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise RuntimeError(f"{method} {path} -> {exc.code}: {detail}") from None

    def counts(self, gte: int | None = None, lt: int | None = None) -> dict[str, int]:
        """Ground-truth counts for ``gte <= created < lt`` (same as GET /_sandbox/counts)."""
        params = {}
        if gte is not None:
            params["created[gte]"] = gte
        if lt is not None:
            params["created[lt]"] = lt
        return self._call("GET", "/_sandbox/counts", params=params)

    def load_counts(self, gte: int | None, lt: int | None) -> dict[str, int]:
        """What a load of every table over ``gte <= created < lt`` holds: the window's rows,
        and the catalog snapshots whole (they are read whole, whatever the window)."""
        from stripe_assets.tables import TABLES

        window, whole = self.counts(gte, lt), self.counts()
        return {t.name: whole[t.name] if t.snapshot else window[t.name] for t in TABLES}

    def minimum_requests(
        self, gte: int | None = None, lt: int | None = None, tables: list[str] | None = None
    ) -> dict[str, int]:
        """The fewest requests per path template that load a created window (GET
        /_sandbox/requests), for every table or only ``tables``."""
        params: dict[str, Any] = {}
        if tables is not None:
            params["tables"] = ",".join(tables)
        if gte is not None:
            params["created[gte]"] = gte
        if lt is not None:
            params["created[lt]"] = lt
        return self._call("GET", "/_sandbox/requests", params=params)

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/stats")

    def reset_stats(self) -> None:
        self._call("POST", "/_sandbox/stats/reset", {})

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change latency_ms, jitter_ms, spike_rate, spike_ms, rate_limit, retry_after,
        should_retry_header, faults or activity_per_second while serving."""
        return self._call("POST", "/_sandbox/config", changes)

    def mutate(self, actions: list[dict[str, Any]] | None = None, random: int = 0) -> dict:
        """Apply mutations (see ``admin.py``); returns what changed and the events created."""
        return self._call("POST", "/_sandbox/mutate", {"actions": actions or [], "random": random})

    def advance_clock(self, seconds: float) -> int:
        return self._call("POST", "/_sandbox/clock", {"advance": seconds})["now"]

    def now(self) -> int:
        return self._call("GET", "/_sandbox/clock")["now"]

    def info(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/info")


def _wait_ready(base_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base_url + "/_sandbox/health", timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.02)


@contextlib.contextmanager
def running_sandbox(
    config: SandboxConfig | None = None, *, subprocess_mode: bool = False, timeout: float = 120
) -> Iterator[SandboxHandle]:
    """Serve a sandbox for the ``with`` block (thread by default; ``subprocess_mode=True``
    runs ``python -m stripe_assets.sandbox`` so the server has its own process and GIL)."""
    cfg = config or SandboxConfig()
    if subprocess_mode:
        with _subprocess(cfg, timeout) as handle:
            yield handle
        return
    from .core import Sandbox
    from .server import new_event_loop, serve

    sb = Sandbox(cfg)
    ready = threading.Event()
    bound: dict[str, Any] = {}
    loop = new_event_loop()
    stop: asyncio.Event | None = None

    def on_ready(host: str, port: int) -> None:
        bound.update(host=host, port=port)
        ready.set()

    def run() -> None:
        nonlocal stop
        asyncio.set_event_loop(loop)

        async def main() -> None:
            nonlocal stop
            stop = asyncio.Event()
            await serve(sb, cfg.host, cfg.port, on_ready, stop)

        try:
            loop.run_until_complete(main())
        except BaseException as exc:
            bound["error"] = exc
            ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="stripe-sandbox", daemon=True)
    thread.start()
    if not ready.wait(timeout) or "error" in bound:
        raise RuntimeError(f"sandbox did not start: {bound.get('error')!r}")
    host = bound["host"]
    base_url = f"http://{host}:{bound['port']}"
    try:
        _wait_ready(base_url, timeout)
        handle = SandboxHandle(base_url, cfg)
        handle.sandbox = sb  # type: ignore[attr-defined]  # in-process access for debugging
        yield handle
    finally:
        if stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def cli_args(cfg: SandboxConfig) -> list[str]:
    """The CLI arguments that reproduce a configuration."""
    args = [
        "--host",
        cfg.host,
        "--port",
        str(cfg.port),
        "--seed",
        str(cfg.seed),
        "--start",
        str(cfg.start),
        "--end",
        str(cfg.end),
        "--scale",
        str(cfg.scale),
        "--api-key",
        cfg.api_key,
        "--latency-ms",
        str(cfg.latency_ms),
        "--jitter-ms",
        str(cfg.jitter_ms),
        "--rate-limit",
        str(cfg.rate_limit),
        "--spike-rate",
        str(cfg.spike_rate),
        "--spike-ms",
        str(cfg.spike_ms),
        "--activity-per-second",
        str(cfg.activity_per_second),
        "--event-retention-days",
        str(cfg.event_retention_days),
    ]
    if cfg.faults:
        args += ["--faults", json.dumps(cfg.faults)]
    if cfg.volumes:
        args += ["--volume", ",".join(f"{k}={v}" for k, v in cfg.volumes.items())]
    if cfg.retry_after is not None:
        args += ["--retry-after", str(cfg.retry_after)]
    if cfg.should_retry_header:
        args.append("--should-retry-header")
    if not cfg.prerender:
        args.append("--no-prerender")
    if cfg.clock_offset:
        args += ["--clock-offset", str(cfg.clock_offset)]
    return args


@contextlib.contextmanager
def _subprocess(cfg: SandboxConfig, timeout: float) -> Iterator[SandboxHandle]:
    cmd = [sys.executable, "-m", "stripe_assets.sandbox", *cli_args(cfg), "--ready-json"]
    root = str(Path(__file__).resolve().parents[2])
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    )
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True, env=env)
    try:
        base_url = None
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("SANDBOX_READY "):
                base_url = json.loads(line.split(" ", 1)[1])["base_url"]
                break
        if base_url is None:
            raise RuntimeError(f"sandbox subprocess did not start (exit {proc.poll()})")
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain
        _wait_ready(base_url, timeout)
        yield SandboxHandle(base_url, cfg, pid=proc.pid)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
