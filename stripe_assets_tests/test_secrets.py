"""The API key never leaves a trace: not in stdout/stderr, DAGSTER_HOME (SQLite run and event
storage), the run config, dlt's directories or error messages. Runs go through
`dagster asset materialize` with a distinctive key, then everything they left is grepped.
(The fault-storm and crash suites scan their runs the same way.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import DagsterInstance

from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets_tests.conftest import SANDBOX_END, SANDBOX_START, day_window, expected_counts
from stripe_assets_tests.test_reliability import cli_env, run_cli, scan_for, table_counts

DAY = "2024-05-03"
ENV_VAR_CONFIG = {"resources": {"stripe": {"config": {"api_key": {"env": "STRIPE_API_KEY"}}}}}


@pytest.mark.slow
@pytest.mark.parametrize("source", ["env_var_in_run_config", "dlt_secrets_toml"])
def test_the_key_appears_nowhere_after_a_run(tmp_path: Path, source: str) -> None:
    key = f"sk_test_SECRETcanary_{source}_d41d8cd98f"
    cfg = SandboxConfig(seed=7, start=SANDBOX_START, end=SANDBOX_END, api_key=key)
    with running_sandbox(cfg) as sb:
        env = cli_env(tmp_path, sb.base_url, key)
        args = ["--partition", DAY]
        if source == "env_var_in_run_config":
            args += ["--config-json", json.dumps(ENV_VAR_CONFIG)]
        else:  # the key only in the project's .dlt/secrets.toml
            del env["STRIPE_API_KEY"]
            (tmp_path / ".dlt").mkdir()
            (tmp_path / ".dlt" / "secrets.toml").write_text(f'stripe_api_key = "{key}"\n')
        out = run_cli(args, env, tmp_path)
        truth = expected_counts(sb, *day_window(DAY))
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    assert table_counts(tmp_path / "warehouse.duckdb") == truth
    hits = scan_for(key, {"stdout": out.stdout, "stderr": out.stderr}, [tmp_path])
    assert [h for h in hits if not h.endswith("secrets.toml")] == []

    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        (run,) = instance.get_runs()
        expected = ENV_VAR_CONFIG["resources"] if source == "env_var_in_run_config" else {}
        assert run.run_config.get("resources", {}) == expected  # only the variable's name


@pytest.mark.slow
def test_a_rejected_key_is_not_echoed_anywhere(tmp_path: Path) -> None:
    wrong = "sk_test_REJECTEDcanary7c2d9e4b1a"
    cfg = SandboxConfig(seed=7, start=SANDBOX_START, end=SANDBOX_END)
    with running_sandbox(cfg) as sb:
        env = cli_env(tmp_path, sb.base_url, wrong)
        out = run_cli(["--partition", DAY], env, tmp_path)
        answers = sb.stats()["by_status"]
    output = out.stdout + out.stderr
    assert out.returncode != 0
    assert "Fix the STRIPE_API_KEY setting" in output
    assert set(answers) == {"401"}
    assert scan_for(wrong, {"stdout": out.stdout, "stderr": out.stderr}, [tmp_path]) == []
