"""Nothing is lost before STRIPE_START_DATE: the first daily partition also holds everything
created before it, so a backfill from the start date loads a customer from years earlier
whose invoices fall after it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets_tests.conftest import DAILY, Warehouse, day_window
from stripe_assets_tests.sandbox_fixtures import Client

pytestmark = pytest.mark.slow

START = "2024-05-03"  # the first partition; the sandbox's data begin in 2022
LAST = "2024-05-05"

SCRIPT = """
import json, sys
from dagster import instance_for_test
from stripe_assets_tests.conftest import run_partitions
with instance_for_test() as instance:
    result = run_partitions(instance, sys.argv[1], sys.argv[2])
    print(json.dumps({"success": result.success}))
"""


def test_a_backfill_from_the_start_date_holds_everything_created_before(tmp_path: Path):
    cfg = SandboxConfig(seed=12, start="2022-01-01", end="2024-05-06", scale=0.02)
    with running_sandbox(cfg) as sb:
        c = Client(sb.base_url, sb.api_key)
        before = day_window(START)[0]
        early = [x for x in c.walk("/v1/customers", {"created[lt]": before - 365 * 86_400})]
        invoices = c.walk("/v1/invoices", {"created[gte]": before})
        loyal = next(i["customer"] for i in invoices if i["customer"] in {x["id"] for x in early})
        c.close()
        root = Path(__file__).resolve().parents[1]
        db = tmp_path / "warehouse.duckdb"
        env = {
            "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(root),
            "STRIPE_START_DATE": START, "STRIPE_API_BASE": sb.base_url,
            "STRIPE_API_KEY": sb.api_key, "DESTINATION__DUCKDB__CREDENTIALS": str(db),
            "STRIPE_REQUESTS_PER_SECOND": "1000",  # the sandbox sets no limit
        }  # fmt: skip
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, START, LAST],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]
        assert json.loads(out.stdout.strip().splitlines()[-1]) == {"success": True}
        truth = sb.counts(None, day_window(LAST)[1])
    warehouse = Warehouse(db)
    assert warehouse.counts() == {t.name: truth[t.name] for t in DAILY}
    assert warehouse.query(f"select count(*) from stripe.customers where id = '{loyal}'") == [(1,)]
    oldest = warehouse.query("select min(created) from stripe.customers")[0][0]
    assert oldest.year == 2022
