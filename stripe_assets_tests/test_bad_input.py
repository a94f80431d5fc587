"""Bad Dagster input through `dagster asset materialize`, as a user types it: each fails
before any request to Stripe, with an error that names the problem (and the fix where
the message is ours)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets_tests.conftest import SANDBOX_END, SANDBOX_START
from stripe_assets_tests.test_reliability import MATERIALIZE, cli_env

CASES = {
    # name: (extra CLI args, unset the key?, texts the output must contain)
    "before_first_day": (
        ["--partition", "1999-01-01"], False,
        ["Could not find a partition with key `1999-01-01`"],
    ),
    "not_a_date": (
        ["--partition", "2024-13-45"], False,
        ["Could not find a partition with key `2024-13-45`"],
    ),
    "reversed_range": (
        ["--partition-range", "2024-05-03...2024-05-01"], False,
        ["ends before it starts", "--partition-range 2024-05-01...2024-05-03"],
    ),
    "two_dots": (
        ["--partition-range", "2024-05-01..2024-05-03"], False,
        ["Invalid partition range format. Expected <start>...<end>."],
    ),
    "no_key": (
        ["--partition", "2024-05-03"], True,
        ["No Stripe API key: set the environment variable STRIPE_API_KEY", "secrets.toml"],
    ),
}  # fmt: skip


@pytest.mark.slow
def test_bad_partitions_and_a_missing_key_fail_clearly_before_any_request(tmp_path: Path) -> None:
    cfg = SandboxConfig(seed=7, start=SANDBOX_START, end=SANDBOX_END)
    with running_sandbox(cfg) as sb:
        procs = {}
        for name, (args, no_key, _) in CASES.items():
            home = tmp_path / name
            home.mkdir()
            env = cli_env(home, sb.base_url, sb.api_key)
            if no_key:
                del env["STRIPE_API_KEY"]
            procs[name] = subprocess.Popen(
                [*MATERIALIZE, *args], env=env, cwd=home, text=True,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )  # fmt: skip
        outputs = {name: proc.communicate(timeout=300)[0] for name, proc in procs.items()}
        requests_made = sb.stats()["total"]
    for name, (_, _, expected) in CASES.items():
        assert procs[name].returncode != 0, name
        for text in expected:
            assert text in outputs[name], f"{name}: {text!r} not in\n{outputs[name][-3000:]}"
    assert requests_made == 0
