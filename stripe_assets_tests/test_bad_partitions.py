"""Bad partition input, as a user types it: `stripe-assets materialize` refuses a key or
range outside the daily partitions before Dagster starts (exit 2, one paragraph naming the
valid days, the format and STRIPE_START_DATE; no traceback, no run, no request); a run
launched with an out-of-range `dagster/partition` tag fails with the same message before its
first request; a valid partition goes through to `dg launch` and loads exact counts, with no
warning printed."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from stripe_assets_tests.conftest import CLI_START_DATE, DAILY, EVENTFUL, Warehouse, day_window
from stripe_assets_tests.test_readme_commands import warnings_in
from stripe_assets_tests.test_reliability import cli_env

_SCRIPT = Path(sys.executable).with_name("stripe-assets")
STRIPE_ASSETS = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "stripe_assets.cli"]
TODAY = datetime.now(UTC).date()
YESTERDAY = (TODAY - timedelta(days=1)).isoformat()
FUTURE = (TODAY + timedelta(days=30)).isoformat()
# What every refusal says: the format, the valid days and the setting that moves the first.
RULES = [
    "UTC days written YYYY-MM-DD",
    f"from {CLI_START_DATE} (STRIPE_START_DATE) to {YESTERDAY}",
]

CASES = {
    # name: (arguments of `stripe-assets materialize`, texts the message must hold)
    "before_first_day": (
        ["--partition", "1999-01-01"],
        ["`1999-01-01` is before the first daily partition", "STRIPE_START_DATE=1999-01-01"],
    ),
    "not_a_day": (
        ["--partition", "2024-13-45"],
        ["`2024-13-45` is not a calendar day", "Set STRIPE_START_DATE=YYYY-MM-DD"],
    ),
    "two_dots": (
        ["--partition-range", "2024-05-01..2024-05-03"],
        ["two dots", "--partition-range 2024-05-01...2024-05-03"],
    ),
    "reversed": (
        ["--partition-range", "2024-05-03...2024-05-01"],
        ["ends before it starts", "--partition-range 2024-05-01...2024-05-03"],
    ),
    "today": (
        ["--partition", TODAY.isoformat()],
        [f"`{TODAY.isoformat()}` is not a complete UTC day yet"],
    ),
    "future_range_end": (
        ["--partition-range", f"2024-05-02...{FUTURE}"],
        [f"`{FUTURE}` is not a complete UTC day yet"],
    ),
}


def _runs(dagster_home: Path) -> list:
    """Every run recorded in a DAGSTER_HOME (none if Dagster never created its storage)."""
    if not (dagster_home / "history").exists():
        return []
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        return list(instance.get_runs())


def test_bad_partitions_are_refused_before_dagster_starts(sandbox, tmp_path: Path) -> None:
    sandbox.reset_stats()
    procs = {}
    for name, (args, _) in CASES.items():
        home = tmp_path / name
        home.mkdir()
        procs[name] = subprocess.Popen(
            [*STRIPE_ASSETS, "materialize", *args],
            env=cli_env(home, sandbox.base_url, sandbox.api_key), cwd=home, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
    outputs = {name: proc.communicate(timeout=300) for name, proc in procs.items()}
    for name, (_, expected) in CASES.items():
        stdout, stderr = outputs[name]
        assert procs[name].returncode == 2, f"{name}: {stdout}{stderr}"
        assert stdout == "", f"{name}: Dagster should not have started:\n{stdout}"
        assert "Traceback" not in stderr, f"{name}:\n{stderr}"
        assert len(stderr.strip().splitlines()) == 1, f"{name}: one paragraph, got\n{stderr}"
        assert stderr.startswith("stripe-assets materialize: "), stderr
        for text in [*expected, *RULES]:
            assert text in stderr, f"{name}: {text!r} not in\n{stderr}"
        assert _runs(tmp_path / name / "dagster_home") == [], name
    assert sandbox.stats()["total"] == 0


def test_a_run_tagged_with_a_day_before_the_first_fails_before_any_request(sandbox, tmp_path):
    """Dagster creates and runs a job whose `dagster/partition` tag lies outside the
    partitions (it only refuses keys it cannot parse): our code stops it at once."""
    sandbox.reset_stats()
    env = cli_env(tmp_path, sandbox.base_url, sandbox.api_key)
    out = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "execute", "-m", "stripe_assets.definitions",
         "-j", "stripe_job", "--tags", json.dumps({PARTITION_NAME_TAG: "1999-01-01"})],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode != 0
    assert sandbox.stats()["total"] == 0, "no request may reach Stripe"
    (run,) = _runs(tmp_path / "dagster_home")
    assert run.status == DagsterRunStatus.FAILURE
    with DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        failures = instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE)
    assert {f.step_key for f in failures} == {"stripe", "stripe_catalog"}  # both loads refuse
    for failure in failures:
        description = failure.dagster_event.step_failure_data.user_failure_data.description
        assert "`1999-01-01` is before the first daily partition" in description
        assert "STRIPE_START_DATE=1999-01-01" in description
        assert RULES[1] in description
        assert description in out.stdout + out.stderr


def test_a_valid_partition_and_range_go_through_to_dagster(
    sandbox, busy_day: str, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, sandbox.base_url, sandbox.api_key)
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")

    def run(*args: str) -> str:
        out = subprocess.run(
            [*STRIPE_ASSETS, "materialize", *args],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        assert warnings_in(out.stdout + out.stderr) == [], out.stderr[-3000:]
        return out.stdout

    stdout = run("--partition", busy_day)
    assert "Running: " in stdout and " launch --assets 'key:\"stripe/*\"' --partition " in stdout
    day = sandbox.counts(*day_window(busy_day))
    assert warehouse.counts() == {t.name: day[t.name] for t in DAILY}
    assert all(day[t.name] > 0 for t in EVENTFUL)

    # A range and a selection of one table: only the charges of 05-04 and 05-05 are added.
    run("--partition-range", "2024-05-04...2024-05-05", "--select", "stripe/charges")
    expected = {t.name: day[t.name] for t in DAILY}
    expected["charges"] += sandbox.counts(*day_window("2024-05-04", days=2))["charges"]
    assert warehouse.counts() == expected
    tags = [PARTITION_NAME_TAG, ASSET_PARTITION_RANGE_START_TAG, ASSET_PARTITION_RANGE_END_TAG]
    runs = sorted(_runs(tmp_path / "dagster_home"), key=lambda r: r.tags.get(tags[2], ""))
    assert [[r.tags.get(tag) for tag in tags] for r in runs] == [
        [busy_day, None, None],
        [None, "2024-05-04", "2024-05-05"],
    ]
