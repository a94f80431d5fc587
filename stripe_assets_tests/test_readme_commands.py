"""The README's commands, typed as written into a user's shell (the project's .venv active,
DAGSTER_HOME with the shipped instance settings, in the repository root): each exits 0 and
prints no SupersessionWarning or DeprecationWarning (Dagster's own supersession notice for the
`dagster asset materialize` command itself aside), and no warning of any kind raised in our
code, even with Python's default warning filter that shows DeprecationWarnings.

`stripe-assets materialize` is run by test_bad_partitions, `dg dev` by the browser test and
`stripe-assets demo` by test_demo, with the same check on what they print.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stripe_assets_tests.conftest import CLI_START_DATE, DAILY, Warehouse, day_window

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
README_WORDS = " ".join(README.split())  # a command wrapped inside a paragraph still counts
VENV_BIN = Path(sys.executable).parent

# A line Python's warnings module prints (`file.py:12: SomeWarning: message`), also when
# Dagster's logger relays it; and what "from our code" means: raised in a file of ours.
_WARNING = re.compile(r"\b(\w*Warning): ")
_OURS = re.compile(r"/stripe_assets(?:_tests)?/[\w/]+\.py:\d+: \w*Warning: ")
MATERIALIZE_SUPERSEDED = "Function `asset_materialize_command` is superseded"


def warnings_in(text: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """Lines of `text` that are Python warnings, except those holding an `allowed` text."""
    return [
        line
        for line in text.splitlines()
        if _WARNING.search(line) and not any(a in line for a in allowed)
    ]


def warnings_from_our_code(text: str) -> list[str]:
    return [line for line in text.splitlines() if _OURS.search(line)]


def user_shell(tmp_path: Path, sandbox=None, **extra: str) -> dict[str, str]:
    """`source .venv/bin/activate` plus the README's exports, pointed at `sandbox`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STRIPE_", "DESTINATION__", "DAGSTER_", "PYTHONWARNINGS"))
    }
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env.update(
        VIRTUAL_ENV=sys.prefix,
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        DAGSTER_HOME=str(home),
        STRIPE_START_DATE=CLI_START_DATE,
        DESTINATION__DUCKDB__CREDENTIALS=str(tmp_path / "warehouse.duckdb"),
    )
    if sandbox is not None:
        env.update(STRIPE_API_BASE=sandbox.base_url, STRIPE_API_KEY=sandbox.api_key)
    return {**env, **extra}


def assert_day_loaded(sandbox, tmp_path: Path, day: str) -> None:
    truth = sandbox.counts(*day_window(day))
    loaded = Warehouse(tmp_path / "warehouse.duckdb").counts()
    assert loaded == {t.name: truth[t.name] for t in DAILY}


def run_readme_command(command: str, env: dict[str, str]) -> str:
    """`command` exactly as the README writes it, in bash in the repository root."""
    assert " ".join(command.split()) in README_WORDS, f"the README no longer shows: {command}"
    out = subprocess.run(
        ["bash", "-c", command], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, f"{command}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout + out.stderr


def test_dg_check_defs_loads_without_a_key_and_warns_of_nothing(tmp_path):
    output = run_readme_command("dg check defs", user_shell(tmp_path))
    assert "All definitions loaded successfully." in output
    assert warnings_in(output) == [], output
    strict = run_readme_command("dg check defs", user_shell(tmp_path, PYTHONWARNINGS="default"))
    assert warnings_from_our_code(strict) == [], strict


def test_dg_launch_one_partition_loads_it_without_warnings(sandbox, tmp_path):
    env = user_shell(tmp_path, sandbox)
    output = run_readme_command("dg launch --assets 'key:\"stripe/*\"' --partition 2024-05-01", env)
    assert warnings_in(output) == [], output
    truth = sandbox.counts(*day_window("2024-05-01"))
    assert Warehouse(tmp_path / "warehouse.duckdb").counts() == {
        t.name: truth[t.name] for t in DAILY
    }


@pytest.mark.slow
def test_the_dagster_commands_the_readme_keeps(sandbox, tmp_path):
    """`dagster asset materialize` (Dagster's notice for the command itself aside), the job
    backfill, the pool limit and the schedule: no other warning, our code's under the default
    filter neither."""
    env = user_shell(tmp_path, sandbox, PYTHONWARNINGS="default")
    output = run_readme_command(
        "dagster asset materialize -m stripe_assets.definitions --select 'key:\"stripe/*\"' "
        "--partition 2024-05-01",
        user_shell(tmp_path, sandbox),
    )
    assert warnings_in(output, allowed=(MATERIALIZE_SUPERSEDED,)) == [], output
    assert MATERIALIZE_SUPERSEDED in output  # so the allowance above is still needed
    truth = sandbox.counts(*day_window("2024-05-01"))
    assert Warehouse(tmp_path / "warehouse.duckdb").counts() == {
        t.name: truth[t.name] for t in DAILY
    }

    for command in [
        "dagster job backfill -m stripe_assets.definitions -j stripe_job --from 2024-05-01 "
        "--to 2024-05-07 --noprompt",
        "dagster instance concurrency set stripe_warehouse 1",
        "dagster schedule start stripe_daily_schedule",  # (`sensor start` takes the same path)
    ]:
        strict = run_readme_command(command, env)
        assert warnings_from_our_code(strict) == [], strict
        assert not [line for line in warnings_in(strict) if "SupersessionWarning" in line], strict
