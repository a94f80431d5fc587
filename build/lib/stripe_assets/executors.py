"""The run executor, chosen by configuration (`STRIPE_EXECUTOR`), never by code changes."""

from __future__ import annotations

import importlib
import os

from dagster import ExecutorDefinition, in_process_executor, multiprocess_executor

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
        return multiprocess_executor
    if name not in _EXTERNAL:
        raise ValueError(f"{EXECUTOR_ENV} must be one of {EXECUTORS}, not {name!r}")
    module, attribute, package = _EXTERNAL[name]
    try:
        return getattr(importlib.import_module(module), attribute)
    except ImportError:
        raise ImportError(
            f"{EXECUTOR_ENV}={name} needs the package {package}: pip install {package}"
        ) from None
