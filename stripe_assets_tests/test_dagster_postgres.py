"""Dagster on PostgreSQL storage by configuration alone (the shipped dagster-postgres.yaml),
for a range run: one planned event and one materialization per (table, day), written in
batches, and every partition shown as materialized."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psycopg2
import pytest
from dagster import AssetKey, DagsterInstance

from stripe_assets.tables import TABLES
from stripe_assets_tests.conftest import DAILY, Warehouse, day_window

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.postgres
def test_runs_and_events_land_in_postgres_storage(sandbox, postgres_url, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster-postgres.yaml", home / "dagster.yaml")
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3; the project ships psycopg2.
        "DAGSTER_POSTGRES_URL": postgres_url.replace("postgresql://", "postgresql+psycopg2://"),
        "STRIPE_API_BASE": sandbox.base_url,
        "STRIPE_API_KEY": sandbox.api_key,
        "DESTINATION__DUCKDB__CREDENTIALS": str(warehouse.path),
    }
    env.pop("STRIPE_DESTINATION", None)
    dagster = str(Path(os.sys.executable).with_name("dagster"))
    out = subprocess.run(
        [dagster, "asset", "materialize", "-m", "stripe_assets.definitions",
         "--select", 'key:"stripe/*"', "--partition-range", "2024-05-02...2024-05-04"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]

    days = ["2024-05-02", "2024-05-03", "2024-05-04"]
    truth = sandbox.counts(*day_window(days[0], days=3))
    assert warehouse.counts() == {t.name: truth[t.name] for t in DAILY}
    with psycopg2.connect(postgres_url) as con, con.cursor() as cur:
        cur.execute("select status from runs")
        statuses = [row[0] for row in cur.fetchall()]
        cur.execute(
            "select dagster_event_type, count(distinct (asset_key, partition)) from event_logs "
            "where dagster_event_type in ('ASSET_MATERIALIZATION', "
            "'ASSET_MATERIALIZATION_PLANNED') group by 1"
        )
        per_type = dict(cur.fetchall())
    assert statuses == ["SUCCESS"]
    catalog = len(TABLES) - len(DAILY)  # one unpartitioned materialization each
    assert per_type == {
        "ASSET_MATERIALIZATION": len(DAILY) * 3 + catalog,
        "ASSET_MATERIALIZATION_PLANNED": len(DAILY) * 3 + catalog,
    }
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", env["DAGSTER_POSTGRES_URL"])
    with DagsterInstance.from_config(str(home)) as instance:
        for table in DAILY:
            key = AssetKey(["stripe", table.name])
            assert instance.get_materialized_partitions(key) == set(days), table.name
    assert not any(home.glob("history/runs*.db")), "SQLite run storage should not be used"
