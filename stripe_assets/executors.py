"""The run executor, chosen by configuration (`STRIPE_EXECUTOR`), never by code changes."""

from __future__ import annotations

import importlib
import os

from dagster import ExecutorDefinition, Field, in_process_executor, multiprocess_executor

from stripe_assets.settings import WAREHOUSE_STEP_TAG, single_writer_warehouse

EXECUTOR_ENV = "STRIPE_EXECUTOR"

# name -> (module, attribute, pip package) for the executors that live in their own package.
_EXTERNAL = {
    "k8s": ("dagster_k8s", "k8s_job_executor", "dagster-k8s"),
    "celery": ("dagster_celery", "celery_executor", "dagster-celery"),
    "celery_k8s": ("dagster_celery_k8s", "celery_k8s_job_executor", "dagster-celery-k8s"),
    "docker": ("dagster_docker", "docker_executor", "dagster-docker"),
}
EXECUTORS = ("in_process", "multiprocess", *_EXTERNAL)


def executor_from_settings() -> ExecutorDefinition:
    """`in_process` (default: the load and its checks in one process), `multiprocess`, or a
    distributed engine: `k8s`, `celery`, `celery_k8s`, `docker` (install its package; its
    settings come from run config or the job's executor config as Dagster documents)."""
    name = (os.environ.get(EXECUTOR_ENV) or "in_process").strip().lower()
    if name == "in_process":
        return in_process_executor
    if name == "multiprocess":
        return _multiprocess()
    if name not in _EXTERNAL:
        raise ValueError(f"{EXECUTOR_ENV} must be one of {EXECUTORS}, not {name!r}")
    module, attribute, package = _EXTERNAL[name]
    try:
        return getattr(importlib.import_module(module), attribute)
    except ImportError:
        raise ImportError(
            f"{EXECUTOR_ENV}={name} needs the package {package}: pip install {package}"
        ) from None


def _multiprocess() -> ExecutorDefinition:
    """Dagster's multiprocess executor; on DuckDB, the steps that open the warehouse file (the
    load, the catalog snapshot, the table checks, the marts) run one at a time, as DuckDB
    allows one writing process per file. The run pool only keeps *runs* apart, so within a run
    this tag limit does it. A server warehouse keeps the executor as it is."""
    if not single_writer_warehouse():
        return multiprocess_executor
    return multiprocess_executor.configured(
        _one_warehouse_step_at_a_time,
        name="multiprocess",
        config_schema={"max_concurrent": Field(int, is_required=False)},
    )


def _one_warehouse_step_at_a_time(config: dict) -> dict:
    limit = {"key": WAREHOUSE_STEP_TAG, "limit": 1}
    return {**config, "tag_concurrency_limits": [limit]}
