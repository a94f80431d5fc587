"""The dbt marts as Dagster assets: lineage from the loads, a real dbt build on a real sandbox
load (DuckDB, then Postgres) whose dbt tests are asset checks, MRR equal to ground truth
computed from the sandbox's own objects, and the warehouse pool between marts and loads (the
automation sensor's one build after a backfill is in test_backfill)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import psycopg2
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from stripe_assets.marts.assets import stripe_marts
from stripe_assets_tests.conftest import SANDBOX_END, SANDBOX_START, run_partitions
from stripe_assets_tests.mrr_truth import StripeApi, mrr_by_item

MODELS = {
    "balance_transaction_details", "customer_overview", "daily_overview", "invoice_details",
    "invoice_line_item_details", "mrr_by_subscription_item", "mrr_summary", "payout_details",
    "subscription_details",
}  # fmt: skip
# Months before June come from invoice lines, June from today's subscription items.
AS_OF = "2024-06-15"
LAST_DAY = date.fromisoformat(SANDBOX_END) - timedelta(days=1)  # the sandbox window's last day

DESCRIBE_LOCATION = """
import json, sys
hosts = []
sys.addaudithook(lambda e, a: hosts.append(str(a[0])) if e == "socket.getaddrinfo" else None)
from stripe_assets.definitions import defs
graph = defs.resolve_asset_graph()
marts = {}
for key in graph.get_all_asset_keys():
    if key.path[0] != "stripe_marts":
        continue
    node = graph.get(key)
    marts[key.path[-1]] = {
        "group": node.group_name,
        "deps": sorted(p.to_user_string() for p in node.parent_keys),
        "checks": sorted(c.name for c in graph.asset_check_keys if c.asset_key == key),
        "pool": node.pools and sorted(node.pools),
    }
loads = sorted(k.to_user_string() for k in graph.get_all_asset_keys() if k.path[0] == "stripe")
print(json.dumps({"marts": marts, "loads": loads, "hosts": hosts}))
"""


def test_code_location_has_the_marts_downstream_of_the_loads(tmp_path: Path) -> None:
    """No key, no warehouse, no network: the marts are assets of group stripe_marts, keyed
    stripe_marts/<model>, depending on the stripe/<table> loads, with dbt tests as checks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DESTINATION__"))}
    env["DAGSTER_HOME"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", DESCRIBE_LOCATION], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    marts, loads = seen["marts"], set(seen["loads"])
    assert set(marts) == MODELS
    assert {m["group"] for m in marts.values()} == {"stripe_marts"}
    assert {p for m in marts.values() for p in m["pool"]} == {"stripe_warehouse"}
    for model in marts.values():  # every dependency is a load or another mart
        assert all(d in loads or d.startswith("stripe_marts/") for d in model["deps"]), model
    assert marts["mrr_by_subscription_item"]["deps"] == [
        "stripe/invoice_line_items", "stripe/invoices", "stripe/subscription_items",
        "stripe/subscriptions",
    ]  # fmt: skip
    assert marts["payout_details"]["deps"] == ["stripe/payout_transactions", "stripe/payouts"]
    assert "stripe_marts/balance_transaction_details" in marts["daily_overview"]["deps"]
    assert "payout_reconciles_payout_details_" in marts["payout_details"]["checks"]
    assert "unique_payout_details_payout_id" in marts["payout_details"]["checks"]
    assert any(c.startswith("accepted_values") for c in marts["mrr_by_subscription_item"]["checks"])
    assert seen["hosts"] == []  # parsing the dbt project asked no host (not even PyPI)
    assert not list(tmp_path.glob("*.duckdb")), "loading the code location opened a warehouse"


def build_marts(instance: DagsterInstance, as_of: str = AS_OF):
    from stripe_assets.definitions import defs

    config = {"ops": {"stripe_marts": {"config": {"as_of": as_of}}}}
    return materialize(
        [stripe_marts], instance=instance, resources=defs.resources, run_config=config
    )


def assert_models_and_checks_passed(result) -> None:
    built = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert built == MODELS
    checks = result.get_asset_check_evaluations()
    failed = [(c.asset_key.path[-1], c.check_name) for c in checks if not c.passed]
    assert len(checks) >= 40 and not failed, failed


def mrr_rows(rows) -> dict:
    return {(item, month): (cur, mrr, prev, kind) for item, month, cur, mrr, prev, kind in rows}


def documented_columns() -> dict[str, dict[str, str]]:
    """model -> {column: description} from the dbt manifest (the schema yml files)."""
    from stripe_assets.marts.project import marts_project

    manifest = json.loads(marts_project().manifest_path.read_text())
    return {
        node["name"]: {c: v.get("description", "") for c, v in node["columns"].items()}
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["name"] in MODELS
    }


MRR_SQL = """select subscription_item_id, month, currency, mrr, previous_mrr, movement_type
from stripe_marts.mrr_by_subscription_item"""


def test_marts_build_on_a_sandbox_load_and_match_ground_truth(sandbox, stripe_env, instance):
    # Before any load every table reads as empty: the marts still build and pass their checks.
    assert_models_and_checks_passed(build_marts(instance))
    assert stripe_env.query("select count(*) from stripe_marts.mrr_summary") == [(0,)]

    assert run_partitions(instance, SANDBOX_START, LAST_DAY.isoformat()).success
    result = build_marts(instance)
    assert_models_and_checks_passed(result)

    truth = mrr_by_item(StripeApi(sandbox.base_url, sandbox.api_key), date.fromisoformat(AS_OF))
    assert {kind for *_, kind in truth.values()} >= {"new", "churned"}, "truth too thin"
    assert mrr_rows(stripe_env.query(MRR_SQL)) == truth

    for model, documented in documented_columns().items():  # every column, documented
        columns = stripe_env.query(
            "select column_name from information_schema.columns "
            f"where table_schema = 'stripe_marts' and table_name = '{model}'"
        )
        assert {c for (c,) in columns} == set(documented), model
        assert all(documented.values()), model

    loaded = stripe_env.counts()
    for model, table in [("invoice_line_item_details", "invoice_line_items"),
                         ("invoice_details", "invoices"), ("payout_details", "payouts"),
                         ("subscription_details", "subscriptions")]:  # fmt: skip
        assert stripe_env.query(f"select count(*) from stripe_marts.{model}") == [(loaded[table],)]

    summary = next(
        e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == AssetKey(["stripe_marts", "mrr_summary"])
    )
    (june_mrr, june_active), = stripe_env.query(
        "select sum(mrr_major), sum(active_subscriptions) from stripe_marts.mrr_summary "
        f"where month = date '{AS_OF[:8]}01' and currency = 'usd'"
    )  # fmt: skip
    assert summary["month"].value == f"{AS_OF[:8]}01"
    assert summary["mrr_usd"].value == pytest.approx(float(june_mrr))
    assert summary["arr_usd"].value == pytest.approx(12 * float(june_mrr))
    assert summary["active_subscriptions_usd"].value == june_active
    assert "customer_churn_rate_usd" in summary and "revenue_churn_rate_usd" in summary


@pytest.mark.postgres
def test_marts_build_on_postgres(sandbox, instance, postgres_url, monkeypatch):
    monkeypatch.setenv("STRIPE_API_BASE", sandbox.base_url)
    monkeypatch.setenv("STRIPE_API_KEY", sandbox.api_key)
    monkeypatch.setenv("STRIPE_DESTINATION", "postgres")
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_url)

    assert run_partitions(instance, SANDBOX_START, LAST_DAY.isoformat()).success
    assert_models_and_checks_passed(build_marts(instance))

    truth = mrr_by_item(StripeApi(sandbox.base_url, sandbox.api_key), date.fromisoformat(AS_OF))
    with psycopg2.connect(postgres_url) as con, con.cursor() as cur:
        cur.execute(MRR_SQL)
        assert mrr_rows(cur.fetchall()) == truth
