"""Choosing tables: STRIPE_TABLES (or STRIPE_EXCLUDE_TABLES) said once is honoured by the
code location's assets and checks, by a run, by the daily schedule and by the events
sensor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets_tests.conftest import Warehouse, day_window

pytestmark = pytest.mark.slow

CHOSEN = ["customers", "payment_methods", "charges", "invoices", "invoice_line_items", "coupons"]
DAY = "2024-05-03"

SCRIPT = """
import json, sys
from datetime import UTC, datetime
from dagster import build_schedule_context, build_sensor_context, instance_for_test
from stripe_assets.automation import JOB_NAME
from stripe_assets.definitions import defs
from stripe_assets_tests.conftest import run_partitions

graph = defs.resolve_asset_graph()
stripe = sorted(k.path[-1] for k in graph.get_all_asset_keys() if k.path[0] == "stripe")
checks = sorted({
    k.asset_key.path[-1] for k in graph.asset_check_keys if k.asset_key.path[0] == "stripe"
})
with instance_for_test() as instance:
    run = run_partitions(instance, sys.argv[1])
    schedule = defs.resolve_schedule_def("stripe_daily_schedule").evaluate_tick(
        build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2024, 5, 4, 0, 15, tzinfo=UTC),
            repository_def=defs.get_repository_def(),
        )
    )
    sensor = defs.resolve_sensor_def("stripe_events_sensor")
    context = build_sensor_context(instance=instance, definitions=defs, resources=defs.resources)
    cursor = sensor.evaluate_tick(context).cursor
    print("MUTATE", flush=True)
    sys.stdin.readline()
    context = build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
    )
    tick = sensor.evaluate_tick(context)
print(json.dumps({
    "assets": stripe, "checks": checks, "success": run.success,
    "scheduled": sorted({k.path[-1] for r in schedule.run_requests for k in r.asset_selection}),
    "sensed": sorted({k.path[-1] for r in tick.run_requests for k in r.asset_selection}),
}))
"""


def test_the_table_selection_is_honoured_everywhere(tmp_path: Path) -> None:
    cfg = SandboxConfig(seed=3, start="2024-05-01", end="2024-05-06")
    with running_sandbox(cfg) as sb:
        root = Path(__file__).resolve().parents[1]
        db = tmp_path / "warehouse.duckdb"
        env = {
            "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(root),
            "STRIPE_TABLES": ",".join(CHOSEN), "STRIPE_START_DATE": "2024-05-01",
            "STRIPE_API_BASE": sb.base_url, "STRIPE_API_KEY": sb.api_key,
            "STRIPE_REQUESTS_PER_SECOND": "1000", "DESTINATION__DUCKDB__CREDENTIALS": str(db),
        }  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, DAY], env=env, cwd=tmp_path, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdin is not None
        for line in proc.stdout:
            if line.startswith("MUTATE"):
                break
        touched = sb.mutate([
            {"op": "update", "resource": "customers", "changes": {"name": "Renamed"}},
            {"op": "update", "resource": "payouts", "changes": {"description": "late"}},
            {"op": "delete", "resource": "coupons"},
        ])  # fmt: skip
        assert len(touched["events"]) == 3
        out, err = proc.communicate("go\n", timeout=600)
        assert proc.returncode == 0, err[-3000:]
        got = json.loads(out.strip().splitlines()[-1])
        truth = sb.counts(*day_window(DAY))
    assert got["assets"] == sorted(CHOSEN) and got["checks"] == sorted(CHOSEN)
    assert got["success"]
    warehouse = Warehouse(db)
    loaded = {t: warehouse.count(t) for t in CHOSEN if warehouse.has(t)}
    assert loaded == {t: truth[t] for t in CHOSEN if t != "coupons"}  # a daily run: no catalog
    assert set(got["scheduled"]) == set(CHOSEN)
    assert set(got["sensed"]) <= set(CHOSEN) and "payouts" not in got["sensed"]
    assert {"customers", "coupons"} <= set(got["sensed"])
