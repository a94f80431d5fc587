"""STRIPE_BACKFILL_POLICY, as Dagster loads the code location: `single_run` (default),
`multi_run` (one run per day) and `multi_run:N` (runs of at most N days) on the asset
definition, a clear error for anything else, and a real backfill split by the daemon into the
expected runs (queued, not run: the queue is closed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from dagster import BackfillPolicy

from stripe_assets.assets import backfill_policy

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODULE = ["-m", "stripe_assets.definitions"]

POLICY = """
import json
from dagster import AssetKey
from stripe_assets.definitions import defs
from stripe_assets_tests.conftest import DAILY, EVENTFUL
from stripe_assets.tables import TABLES
# The policy as backfills and the schedule's planner see it, on every table's node.
policies = {defs.resolve_asset_graph().get(AssetKey(["stripe", t.name])).backfill_policy
            for t in DAILY}
(policy,) = policies
print(json.dumps([policy.policy_type.value, policy.max_partitions_per_run]))
"""


def _env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """A user's shell: the project's .venv activated, no Stripe or Dagster settings but ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DAGSTER_"))}
    if home is not None:
        env["DAGSTER_HOME"] = str(home)
    return {**env, "VIRTUAL_ENV": sys.prefix, "STRIPE_START_DATE": "2024-05-01", **extra}


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=REPO, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, BackfillPolicy.single_run()),
        ("single_run", BackfillPolicy.single_run()),
        ("multi_run", BackfillPolicy.multi_run(1)),
        ("multi_run:31", BackfillPolicy.multi_run(31)),
        (" Multi_Run:7 ", BackfillPolicy.multi_run(7)),
    ],
)
def test_policy_forms(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("STRIPE_BACKFILL_POLICY", raising=False)
    else:
        monkeypatch.setenv("STRIPE_BACKFILL_POLICY", value)
    assert backfill_policy() == expected


@pytest.mark.parametrize("value", ["multi_run:0", "multi_run:x", "multi_run(31)", "chunks"])
def test_a_malformed_policy_names_the_forms(monkeypatch, value):
    monkeypatch.setenv("STRIPE_BACKFILL_POLICY", value)
    with pytest.raises(ValueError) as error:
        backfill_policy()
    assert f"STRIPE_BACKFILL_POLICY={value!r} is not a backfill policy" in str(error.value)
    assert "`multi_run:N` (runs of at most N days, e.g. multi_run:31)" in str(error.value)


def test_the_code_location_takes_the_policy_or_fails_to_load_clearly():
    out = _python(POLICY, _env(STRIPE_BACKFILL_POLICY="multi_run:31"))
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["MULTI_RUN", 31]

    out = subprocess.run(
        [str(BIN / "dg"), "check", "defs"], env=_env(STRIPE_BACKFILL_POLICY="multi_run:O"),
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 1
    text = out.stdout + out.stderr
    assert "STRIPE_BACKFILL_POLICY='multi_run:O' is not a backfill policy" in text, text[-3000:]


ADD_BACKFILL = """
from dagster import AssetKey, DagsterInstance
from dagster._core.execution.backfill import PartitionBackfill
from dagster._time import get_current_timestamp
from stripe_assets.definitions import defs
with DagsterInstance.get() as instance:
    instance.add_backfill(PartitionBackfill.from_asset_partitions(
        backfill_id="chunked", asset_graph=defs.resolve_asset_graph(),
        partition_names=[f"2024-05-{day:02}" for day in range(1, 8)],
        asset_selection=[AssetKey(["stripe", "payouts"])],
        backfill_timestamp=get_current_timestamp(), tags={}, dynamic_partitions_store=instance,
        all_partitions=False, title=None, description=None, run_config=None))
"""


@pytest.mark.slow
def test_a_backfill_of_a_week_with_multi_run_3_is_three_runs(tmp_path):
    """The UI's kind of backfill (an asset backfill the daemon plans), 7 days, multi_run:3:
    runs of 3, 3 and 1 days. The queue admits no run (`max_concurrent_runs: 0`), so the
    test sees the daemon's plan without executing it (loading ranges is tested elsewhere)."""
    from dagster import DagsterInstance

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "run_queue:\n  max_concurrent_runs: 0\ntelemetry:\n  enabled: false\n"
    )
    env = _env(home, STRIPE_BACKFILL_POLICY="multi_run:3")
    added = _python(ADD_BACKFILL, env)
    assert added.returncode == 0, added.stderr[-3000:]
    log = tmp_path / "daemon.log"
    with log.open("w") as out:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", *MODULE], env=env, cwd=REPO, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            deadline = time.monotonic() + 120
            while len(runs := instance.get_runs()) < 3 and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(2)  # a fourth run would show up by now
            runs = instance.get_runs()
    finally:
        os.killpg(daemon.pid, signal.SIGINT)
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
    spans = sorted(
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in runs
    )
    assert spans == [
        ("2024-05-01", "2024-05-03"),
        ("2024-05-04", "2024-05-06"),
        ("2024-05-07", "2024-05-07"),
    ], log.read_text()[-3000:]
    assert {r.tags.get("dagster/backfill") for r in runs} == {"chunked"}
