"""The executor is configuration: STRIPE_EXECUTOR switches it without code changes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from dagster import in_process_executor, multiprocess_executor

from stripe_assets.executors import executor_from_settings


def test_default_and_multiprocess(monkeypatch):
    monkeypatch.delenv("STRIPE_EXECUTOR", raising=False)
    assert executor_from_settings() is in_process_executor
    monkeypatch.setenv("STRIPE_EXECUTOR", "multiprocess")
    assert executor_from_settings() is multiprocess_executor


def test_distributed_engine_without_its_package_names_the_install(monkeypatch):
    monkeypatch.setenv("STRIPE_EXECUTOR", "celery")
    try:
        import dagster_celery  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install dagster-celery"):
            executor_from_settings()
    else:
        assert executor_from_settings().name == "celery"
    monkeypatch.setenv("STRIPE_EXECUTOR", "bogus")
    with pytest.raises(ValueError, match="STRIPE_EXECUTOR must be one of"):
        executor_from_settings()


def test_code_location_takes_the_multiprocess_executor_by_env(tmp_path):
    env = {**os.environ, "STRIPE_EXECUTOR": "multiprocess", "DAGSTER_HOME": str(tmp_path)}
    code = (
        "from stripe_assets.definitions import defs;"
        "print(defs.resolve_job_def('stripe_job').executor_def.name)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "multiprocess"
