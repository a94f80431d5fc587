"""The dbt profile, derived from the load's own settings: the marts are built in the warehouse
the Stripe assets load, with no second configuration.

- `STRIPE_DESTINATION=duckdb` (default): dbt-duckdb on the file dlt resolves from
  `DESTINATION__DUCKDB__CREDENTIALS` (or `.dlt` config), with its `global_config` as settings;
- `STRIPE_DESTINATION=postgres`: dbt-postgres with dlt's resolved Postgres credentials
  (`DESTINATION__POSTGRES__CREDENTIALS=postgresql://...` or `.dlt/secrets.toml`).

Models go to the schema `stripe_marts`; sources are read from the dataset `stripe`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from stripe_assets.settings import DESTINATION_ENV, destination_name

PROFILE_NAME = "stripe_assets"  # `profile:` in dbt_project.yml
MARTS_SCHEMA = "stripe_marts"
SUPPORTED_DESTINATIONS = ("duckdb", "postgres")


class UnsupportedMartsDestinationError(RuntimeError):
    """The marts have no dbt adapter wired for the configured destination."""


def adapter_type() -> str:
    """The dbt adapter for `STRIPE_DESTINATION`."""
    name = destination_name()
    if name not in SUPPORTED_DESTINATIONS:
        raise UnsupportedMartsDestinationError(
            f"The marts run on DuckDB and Postgres; {DESTINATION_ENV}={name} has no dbt "
            "adapter wired here. Load into duckdb or postgres, or leave the stripe_marts "
            "assets out of your runs (select group:stripe)."
        )
    return name


def parse_adapter() -> str:
    """The adapter to parse with: the destination's, or duckdb's for a destination the marts
    cannot run on (the code location still loads; a marts run then fails with the reason)."""
    name = destination_name()
    return name if name in SUPPORTED_DESTINATIONS else "duckdb"


def parse_output(adapter: str) -> dict[str, Any]:
    """A profile output for `dbt parse`, which never connects: the run's own output without
    its password when dlt can resolve it now (dbt then parses partially at run time, since
    the connection it parsed for is the same), else placeholders of the adapter's type."""
    try:
        if adapter == adapter_type():
            return {**run_output(), "password": ""} if adapter == "postgres" else run_output()
    except Exception:  # e.g. no Postgres credentials configured where the code location loads
        pass
    if adapter == "duckdb":
        return {"type": "duckdb", "path": ":memory:", "schema": MARTS_SCHEMA, "threads": 1}
    return {
        "type": "postgres", "host": "localhost", "port": 5432, "user": "parse",
        "password": "", "dbname": "parse", "schema": MARTS_SCHEMA, "threads": 4,
    }  # fmt: skip


def run_output() -> dict[str, Any]:
    """The profile output of the warehouse the loads write, resolved as dlt resolves it."""
    adapter = adapter_type()
    credentials = _dlt_credentials()
    if adapter == "duckdb":
        output: dict[str, Any] = {
            "type": "duckdb",
            "path": str(Path(credentials.database).resolve()),
            "schema": MARTS_SCHEMA,
            "threads": 1,
        }
        if credentials.global_config:
            output["settings"] = dict(credentials.global_config)
        return output
    output = {
        "type": "postgres",
        "host": credentials.host,
        "port": int(credentials.port or 5432),
        "user": credentials.username,
        "password": credentials.password or "",
        "dbname": credentials.database,
        "schema": MARTS_SCHEMA,
        "threads": 4,
        "connect_timeout": int(credentials.connect_timeout or 15),
    }
    sslmode = (credentials.query or {}).get("sslmode")
    if sslmode:
        output["sslmode"] = sslmode
    return output


def _dlt_credentials() -> Any:
    """The destination credentials of the load's dlt pipeline (no connection is opened)."""
    from stripe_assets.warehouse import build_pipeline

    with tempfile.TemporaryDirectory(prefix="stripe-assets-marts-") as pipelines_dir:
        return build_pipeline(pipelines_dir).destination_client().config.credentials


def write_profiles(directory: Path, output: dict[str, Any]) -> Path:
    """`profiles.yml` with one target, readable by its owner only (it may hold a password)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "profiles.yml"
    profile = {PROFILE_NAME: {"target": output["type"], "outputs": {output["type"]: output}}}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        yaml.safe_dump(profile, handle, sort_keys=False)
    return directory


@contextmanager
def run_profiles_dir(output: dict[str, Any]) -> Iterator[Path]:
    """A temporary profiles directory with `output` for one dbt run, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="stripe-assets-dbt-") as directory:
        yield write_profiles(Path(directory), output)


def describe(output: dict[str, Any]) -> str:
    """Where a profile output points, without its password."""
    shown = {k: v for k, v in output.items() if k in ("type", "path", "host", "port", "dbname")}
    return json.dumps(shown)
