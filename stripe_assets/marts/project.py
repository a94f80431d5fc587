"""The dbt project and its manifest.

The manifest (the graph Dagster builds the assets from) is made by `dbt parse` when the code
location loads and finds none, or finds one made from other files, another dbt-core or
another adapter: a fingerprint of those sits beside it. Parsing needs no warehouse, key or
network and takes a few seconds, once per adapter. The manifest lives in
`dbt_project/target/<adapter>/` (ignored by git, so never committed stale), or in the user's
cache when the package directory is read-only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from functools import cache
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DbtProject
from filelock import FileLock

from stripe_assets.marts.cli import StripeDbtCli, dbt_executable
from stripe_assets.marts.profile import parse_adapter, parse_output, write_profiles

PROJECT_DIR = Path(__file__).resolve().parent / "dbt_project"
PROJECT_SOURCES = ("dbt_project.yml", "models", "macros", "tests", "seeds")
FINGERPRINT_FILE = "stripe_assets_fingerprint"


def target_dir() -> Path:
    """`dbt_project/target`, or `~/.cache/stripe-assets/dbt-target` when the installed
    package cannot be written to."""
    if os.access(PROJECT_DIR, os.W_OK):
        return PROJECT_DIR / "target"
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home / "stripe-assets" / "dbt-target"


def fingerprint(adapter: str) -> str:
    """What the manifest is made from: every project file, dbt-core's version, the adapter."""
    digest = hashlib.sha256(f"{installed_version('dbt-core')}\0{adapter}\0".encode())
    for name in PROJECT_SOURCES:
        root = PROJECT_DIR / name
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if path.exists():
                digest.update(str(path.relative_to(PROJECT_DIR)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _parse(project: DbtProject, profiles_dir: Path) -> None:
    cli = StripeDbtCli(
        project_dir=project, profiles_dir=str(profiles_dir), dbt_executable=dbt_executable()
    )
    cli.cli(["parse", "--quiet"], target_path=project.target_path).wait()


@cache
def marts_project() -> DbtProject:
    """The project, with a manifest that matches its files (parsed now if it does not)."""
    adapter = parse_adapter()
    # One manifest per adapter: a code location on Postgres never re-parses (or rewrites under
    # a reader's feet) the DuckDB one.
    target = target_dir() / adapter
    target.mkdir(parents=True, exist_ok=True)
    stamp = target / FINGERPRINT_FILE
    expected = fingerprint(adapter)
    # Processes loading the code location at once (webserver, daemon, run workers) parse once.
    with FileLock(target / "parse.lock", timeout=300):
        profiles_dir = write_profiles(target / "parse-profile", parse_output(adapter))
        project = DbtProject(project_dir=PROJECT_DIR, target_path=target, profiles_dir=profiles_dir)
        current = stamp.read_text() if stamp.exists() else None
        if not project.manifest_path.exists() or current != expected:
            _parse(project, profiles_dir)
            stamp.write_text(expected)
    return project


def keep_partial_parse(project: DbtProject, run_target: Path) -> None:
    """After a run that had to parse the project fully (its warehouse is not the one the
    manifest was parsed for), keep that run's parse state for the next runs: dagster-dbt
    copies `partial_parse.msgpack` from the project's target into each run's, and dbt only
    reuses it for the same connection and vars. The manifest is unchanged (dbt's graph does
    not depend on the connection)."""
    state = run_target / "partial_parse.msgpack"
    if state.exists():
        with FileLock(project.target_path / "parse.lock", timeout=300):
            shutil.copyfile(state, project.target_path / "partial_parse.msgpack")
