"""The CLI serves on a free port, prints its URL and key, and stops cleanly on SIGINT."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from stripe_assets.sandbox import running_sandbox
from stripe_assets.sandbox.cli import build_parser, config_from_args, parse_faults
from stripe_assets.sandbox.runner import cli_args
from stripe_assets_tests.sandbox_fixtures import Client, small_config

ROOT = Path(__file__).resolve().parents[1]


def test_cli_starts_serves_and_stops_on_sigint() -> None:
    cmd = [
        sys.executable,
        "-m",
        "stripe_assets.sandbox",
        "--port",
        "0",
        "--seed",
        "3",
        "--start",
        "2024-04-01",
        "--end",
        "2024-04-03",
        "--api-key",
        "sk_test_cli_key_0001",
        "--faults",
        "500=0.0",
        "--activity-per-second",
        "5",
    ]
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+)\s+\(API key: (\S+);", line)
        assert m, line
        base_url, key = m.group(1), m.group(2)
        assert key == "sk_test_cli_key_0001"
        c = Client(base_url, key)
        page = c.ok("/v1/customers", {"limit": 3})
        assert len(page["data"]) == 3
        assert c.get("/v1/customers", auth=None)[0] == 401
        c.close()
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_running_sandbox_in_a_subprocess() -> None:
    with running_sandbox(small_config(seed=8), subprocess_mode=True) as sb:
        assert sb.pid and sb.pid != os.getpid()
        c = Client(sb.base_url, sb.api_key)
        counts = sb.counts(sb.config.start_ts, sb.config.end_ts)
        assert len(c.walk("/v1/charges")) == counts["charges"] > 0
        sb.configure(faults={"503": 1.0})
        assert c.get("/v1/charges")[0] == 503
        c.close()
        pid = sb.pid
    with pytest.raises(ProcessLookupError):
        for _ in range(100):
            os.kill(pid, 0)
            import time

            time.sleep(0.05)


def test_cli_arguments_map_to_config() -> None:
    args = build_parser().parse_args(
        [
            "--port",
            "0",
            "--scale",
            "2.5",
            "--latency-ms",
            "20",
            "--jitter-ms",
            "5",
            "--rate-limit",
            "30",
            "--faults",
            '{"drop": 0.01}',
            "--fault-rate",
            "0.05",
            "--retry-after",
            "2",
            "--should-retry-header",
            "--volume",
            "charges=60, refunds=0.1",
        ]
    )
    cfg = config_from_args(args)
    assert cfg.volumes == {"charges": 60.0, "refunds": 0.1}
    assert cli_args(cfg)[cli_args(cfg).index("--volume") + 1] == "charges=60.0,refunds=0.1"
    assert (cfg.scale, cfg.latency_ms, cfg.jitter_ms, cfg.rate_limit) == (2.5, 20, 5, 30)
    assert cfg.faults["drop"] == 0.01 and cfg.faults["500"] == pytest.approx(0.01)
    assert cfg.retry_after == 2 and cfg.should_retry_header
    assert cfg.host == "127.0.0.1"
    assert parse_faults("500=0.1, truncate=0.02", None) == {"500": 0.1, "truncate": 0.02}
    with pytest.raises(SystemExit):
        from stripe_assets.sandbox.cli import main

        main(["--faults", "nosuchfault=0.5", "--port", "0"])
    with pytest.raises(SystemExit, match="unknown volume 'widgets'"):
        main(["--volume", "widgets=3", "--port", "0"])
