"""The dbt CLI as dagster-dbt drives it, minus a network call."""

from __future__ import annotations

import sys
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DbtCliResource
from packaging import version


def dbt_executable() -> str:
    """The `dbt` beside this interpreter (a venv's bin is often not on PATH, e.g. when Dagster
    is started as `.venv/bin/dagster`), else whatever `dbt` PATH finds."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


class StripeDbtCli(DbtCliResource):
    """`DbtCliResource` that knows its dbt version instead of asking `dbt --version`.

    dagster-dbt runs `dbt --version` before every dbt command, and that command asks PyPI for
    the latest dbt-core and adapter releases (three HTTP requests, one-second timeouts each).
    The project contacts no host but Stripe and the warehouse, so the installed dbt-core's
    version is read from its package metadata instead.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(installed_version("dbt-core"))
