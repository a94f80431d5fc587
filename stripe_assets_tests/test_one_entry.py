"""A table is one registry entry: appending a single entry for a resource the project does
not ship (Issuing cardholders) is all it takes for the sandbox to serve it in Stripe's shape, for a
partition to load it exactly through Dagster, and for its checks to run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stripe_assets_tests.sandbox_fixtures import require_shared

pytestmark = pytest.mark.slow

ENTRY = """
StripeTable(
    name="issuing_cardholders",
    object="issuing.cardholder",
    path="/v1/issuing/cardholders",
    description="Issuing cardholders, one row per person or business cards are issued to.",
    columns=timestamps("created"),
    column_descriptions={"status": "active, inactive or blocked."},
    events=("issuing_cardholder.created", "issuing_cardholder.updated"),
    sandbox=Volume(daily=3),
)
"""

SCRIPT = """
import json, os, sys
from stripe_assets.tables import StripeTable, Volume, register, timestamps

register({entry})

from dagster import instance_for_test

from stripe_assets.automation import JOB_NAME
from stripe_assets.definitions import defs
from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets.tables import TABLES
from stripe_assets_tests.conftest import Warehouse, day_window
from stripe_assets_tests.sandbox_fixtures import Client, assert_valid

warehouse = Warehouse(__import__("pathlib").Path(sys.argv[1]))
os.environ["DESTINATION__DUCKDB__CREDENTIALS"] = str(warehouse.path)
with running_sandbox(SandboxConfig(seed=3, start="2024-05-01", end="2024-05-06")) as sb:
    os.environ.update(STRIPE_API_BASE=sb.base_url, STRIPE_API_KEY=sb.api_key)
    day = next(
        d for d in ("2024-05-0%d" % i for i in range(1, 6))
        if sb.counts(*day_window(d))["issuing_cardholders"] > 0
    )
    c = Client(sb.base_url, sb.api_key)
    holders = c.walk("/v1/issuing/cardholders")
    for holder in holders:
        assert_valid("issuing.cardholder", holder)
    status, _, bad = c.get("/v1/issuing/cardholders", {{"colour": "blue"}})
    # a page worker process (which imports the registry afresh) decodes them too
    from stripe_assets.pages.decode import PageJob
    from stripe_assets.pages.pool import PageDecoder

    class Report:
        in_worker = []
        def warn(self, message): raise AssertionError(message)
        def decoded(self, in_worker): self.in_worker.append(in_worker)

    decoder = PageDecoder(1, Report())
    decoder.start(wait=60)
    body = c.raw("GET", "/v1/issuing/cardholders", {{"limit": 100}})[2]
    page = decoder.decode(body, PageJob("issuing_cardholders"))
    decoder.close()
    with instance_for_test() as instance:
        result = defs.resolve_job_def(JOB_NAME).execute_in_process(
            instance=instance, partition_key=day
        )
    checks = {{
        e.check_name: e.passed
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path[-1] == "issuing_cardholders"
    }}
    print(json.dumps({{
        "success": result.success,
        "served": len(holders),
        "shapes": sorted({{t["object"] for t in holders}}),
        "unknown_param": [status, bad["error"]["message"]],
        "loaded": warehouse.counts(),
        "truth": {{t.name: n for t in TABLES if not t.snapshot
                   for n in [sb.counts(*day_window(day))[t.name]]}},
        "checks": checks,
        "worker": [Report.in_worker, page.count, page.table.num_rows],
    }}))
"""


def test_one_registry_entry_is_a_whole_table(tmp_path: Path) -> None:
    require_shared()  # objects are validated against Stripe's spec
    code = textwrap.dedent(SCRIPT).format(entry=textwrap.indent(ENTRY.strip(), "    ").strip())
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "warehouse.duckdb")],
        capture_output=True, text=True, timeout=600, cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
             "DAGSTER_HOME": str(tmp_path)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-4000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["success"]
    assert got["served"] > 0 and got["shapes"] == ["issuing.cardholder"]
    assert got["unknown_param"] == [400, "Received unknown parameter: colour"]
    assert got["loaded"] == got["truth"] and got["truth"]["issuing_cardholders"] > 0
    assert got["checks"] == {"readable": True, "unique_key": True, "no_null_keys": True}
    assert got["worker"] == [[True], got["served"], got["served"]]
    assert len(ENTRY.strip().splitlines()) <= 15


def test_readme_shows_this_entry():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert ENTRY.strip() in readme
