"""The executor is configuration: STRIPE_EXECUTOR switches it without code changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import in_process_executor, multiprocess_executor

from stripe_assets.executors import _one_warehouse_step_at_a_time, executor_from_settings
from stripe_assets.settings import WAREHOUSE_STEP_TAG
from stripe_assets.tables import TABLES
from stripe_assets_tests.conftest import DAILY, day_window, expected_counts

DAY = "2024-05-02"


def test_default_and_multiprocess(monkeypatch):
    monkeypatch.delenv("STRIPE_EXECUTOR", raising=False)
    monkeypatch.delenv("STRIPE_DESTINATION", raising=False)
    assert executor_from_settings() is in_process_executor
    monkeypatch.setenv("STRIPE_EXECUTOR", "multiprocess")
    on_duckdb = executor_from_settings()
    assert on_duckdb.name == "multiprocess" and on_duckdb is not multiprocess_executor
    # Dagster's own config, with one warehouse step at a time on the DuckDB file.
    config = on_duckdb.config_schema.config_type
    assert "max_concurrent" in config.fields
    resolved = _one_warehouse_step_at_a_time({"max_concurrent": 3})
    assert resolved["max_concurrent"] == 3
    assert resolved["tag_concurrency_limits"] == [{"key": WAREHOUSE_STEP_TAG, "limit": 1}]
    monkeypatch.setenv("STRIPE_DESTINATION", "postgres")
    assert executor_from_settings() is multiprocess_executor


def test_every_warehouse_step_carries_the_tag():
    from stripe_assets.assets import stripe_catalog, stripe_tables
    from stripe_assets.checks import stripe_table_checks
    from stripe_assets.marts.assets import stripe_marts

    for definition in (stripe_tables, stripe_catalog, stripe_table_checks, stripe_marts):
        assert WAREHOUSE_STEP_TAG in definition.op.tags, definition.op.name


@pytest.mark.slow
def test_multiprocess_run_on_duckdb_loads_catalog_and_checks(sandbox, warehouse, tmp_path):
    """The partitioned load and the catalog snapshot are independent steps: with the
    multiprocess executor they would open the DuckDB file at once and one would fail."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DESTINATION__"))}
    env.update(STRIPE_EXECUTOR="multiprocess", DAGSTER_HOME=str(tmp_path),
               STRIPE_API_BASE=sandbox.base_url, STRIPE_API_KEY=sandbox.api_key,
               DESTINATION__DUCKDB__CREDENTIALS=str(warehouse.path))  # fmt: skip
    out = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "asset", "materialize",
         "-m", "stripe_assets.definitions", "--select", 'key:"stripe/*"', "--partition", DAY],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    truth = expected_counts(sandbox, *day_window(DAY))
    assert warehouse.counts() == {t.name: truth[t.name] for t in DAILY}
    catalog = [t.name for t in TABLES if t.snapshot]
    assert {t: warehouse.count(t) for t in catalog if warehouse.has(t)} == {
        t: truth[t] for t in catalog if truth[t]
    }


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
