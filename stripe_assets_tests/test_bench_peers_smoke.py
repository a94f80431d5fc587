"""Smoke run of the peer benchmark harness on a one-day window (only where the peers'
virtualenvs already exist: the test never installs them). Checks record counts, not times."""

from __future__ import annotations

from pathlib import Path

import pytest

from stripe_assets_tests.benchmarks import bench_peers
from stripe_assets_tests.benchmarks.peers import CACHE_ENV, PEERS, venv_ready

pytestmark = pytest.mark.slow


def test_harness_runs_every_tool_and_counts_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = [name for name in PEERS if not venv_ready(name)]
    if missing:
        pytest.skip(
            f"peer venvs missing for {missing} (set {CACHE_ENV} or run "
            "`python -m stripe_assets_tests.benchmarks.bench_peers` once to create them)"
        )
    args = ["--days", "1", "--latency-ms", "0", "--jitter-ms", "0", "--rate-limit", "0"]
    assert bench_peers.main([*args, "--no-install", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    truth = next(line for line in lines if line.startswith("ground truth")).split()[2:]
    for tool in bench_peers.TOOLS:
        row = next(line for line in lines if line.startswith(tool + " ")).split()
        assert row[-len(truth) :] == truth, f"{tool} counts differ from ground truth:\n{out}"
    assert "ERROR" not in out
