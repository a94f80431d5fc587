"""The dbt marts as Dagster assets: lineage from the loads, a real dbt build on a real sandbox
load (DuckDB, then Postgres) whose dbt tests are asset checks, MRR per item, mrr_summary,
daily_overview and payout_details equal to ground truth computed from the sandbox's own
objects (mrr_truth, marts_truth), and the warehouse pool between marts and loads (the
automation sensor's one build after a backfill is in test_backfill)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import psycopg2
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from stripe_assets.marts.assets import stripe_marts
from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets.settings import StripeSettings
from stripe_assets.source import CreatedWindow
from stripe_assets.warehouse import build_pipeline
from stripe_assets_tests import marts_truth
from stripe_assets_tests.conftest import DAILY, UNLIMITED, Warehouse, day_window, load_with
from stripe_assets_tests.mrr_truth import StripeApi, mrr_by_item

MODELS = {
    "balance_transaction_details", "customer_overview", "daily_overview", "invoice_details",
    "invoice_line_item_details", "mrr_by_subscription_item", "mrr_summary", "payout_details",
    "subscription_details",
}  # fmt: skip
# Months before June come from invoice lines, June from today's subscription items.
AS_OF = "2024-06-15"
MARTS_START, MARTS_END = "2024-04-01", "2024-05-11"
"""The marts' sandbox: forty days, so that MRR spans three months (April and May from invoice
lines, June from today's items) with every movement in it (an expansion or contraction needs
an item's second monthly invoice) and MRR in every currency (usd, jpy, kwd); seed 2 is one
such (the truth's own checks say so). The load's cost is per day more than per object."""


@pytest.fixture(scope="module")
def marts_sandbox():
    volumes = {"disputes": 0.3, "refunds": 0.3}
    cfg = SandboxConfig(seed=2, start=MARTS_START, end=MARTS_END, volumes=volumes)
    with running_sandbox(cfg) as sb:
        yield sb


@pytest.fixture
def marts_env(marts_sandbox, warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    """The project pointed at the marts' sandbox and a fresh DuckDB file (as stripe_env)."""
    monkeypatch.setenv("STRIPE_API_BASE", marts_sandbox.base_url)
    monkeypatch.setenv("STRIPE_API_KEY", marts_sandbox.api_key)
    monkeypatch.setenv("STRIPE_REQUESTS_PER_SECOND", UNLIMITED)
    return warehouse


def load_marts_sandbox(sandbox, workdir: Path) -> None:
    """The marts' sandbox window, every daily table, loaded by the project's source and
    pipeline into the configured warehouse. Straight through dlt: forty days through Dagster
    would spend most of a minute writing 2,700 partition events, and the loads' path through
    Dagster into the marts is the backfill test's (test_backfill)."""
    settings = StripeSettings.resolve(
        api_key=sandbox.api_key, api_base=sandbox.base_url, requests_per_second=float(UNLIMITED)
    )
    window = CreatedWindow(day_window(MARTS_START)[0], day_window(MARTS_END)[0])
    pipeline = build_pipeline(pipelines_dir=str(workdir / "marts-dlt"))
    load_with(pipeline, window, settings, tables=[t.name for t in DAILY])


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


def duckdb_rows(path: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def postgres_rows(url: str, sql: str) -> list[dict]:
    with psycopg2.connect(url) as con, con.cursor() as cur:
        cur.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


RATES = ("customer_churn_rate", "revenue_churn_rate")


def assert_rows_match(model: str, rows: list[dict], truth: dict, key: tuple[str, ...]) -> None:
    """Every row of `model` is its truth row: same keys, and per column the same value (exact:
    ints, and major-unit decimals equal to the truth's fractions; rates to float precision).
    Truth rows with all the model's columns are compared on all of them."""
    got = {tuple(r[k] for k in key) if len(key) > 1 else r[key[0]]: r for r in rows}
    assert len(got) == len(rows), f"{model}: duplicate keys"
    missing, extra = sorted(set(truth) - set(got)), sorted(set(got) - set(truth))
    assert not missing and not extra, (model, missing[:5], extra[:5])
    wrong = []
    for k, want in truth.items():
        row = got[k]
        assert set(want) <= set(row), (model, set(want) - set(row))
        for column, value in want.items():
            seen = row[column]
            if column in RATES:
                ok = seen is None if value is None else seen == pytest.approx(float(value))
            else:
                ok = seen == value and (seen is None) == (value is None)
            if not ok:
                wrong.append((k, column, seen, value))
    assert not wrong, (model, len(wrong), wrong[:10])


def assert_marts_match_truth(rows, sandbox) -> None:
    """mrr_summary, daily_overview and payout_details (read with `rows(sql)`) equal the truth
    computed from the sandbox's objects over its API, and that truth is not a trivial one."""
    api, as_of = StripeApi(sandbox.base_url, sandbox.api_key), date.fromisoformat(AS_OF)
    majors = {"usd": "2", "jpy": "0", "kwd": "3"}

    summary = marts_truth.mrr_summary(api, as_of)
    assert len({m for m, _ in summary}) >= 3 and {c for _, c in summary} == set(majors)
    for kind in marts_truth.MOVEMENTS:
        assert sum(r[f"{kind}_items"] for r in summary.values()) > 0, f"no {kind} movement"
    assert all(any(r["mrr"] > 0 for (_, c), r in summary.items() if c == cur) for cur in majors)
    assert any(r["churned_customers"] and r["customer_churn_rate"] for r in summary.values())
    summary_rows = rows("select * from stripe_marts.mrr_summary")
    assert {c for r in summary_rows for c in r} == {c for r in summary.values() for c in r}
    assert_rows_match("mrr_summary", summary_rows, summary, ("month", "currency"))

    daily = marts_truth.daily_overview(api, as_of)
    assert {c for _, c in daily} == set(majors)
    for column in ("charge_amount", "refund_amount", "dispute_amount", "fee_amount",
                   "payout_amount", "failed_charge_count"):  # fmt: skip
        assert any(r[column] for r in daily.values()), f"no {column} in the truth"
    for currency in majors:  # jpy and kwd days with charges and payouts
        assert any(r["charge_amount"] and r["payout_amount"]
                   for (_, c), r in daily.items() if c == currency), currency  # fmt: skip
    daily_rows = rows("select * from stripe_marts.daily_overview")
    assert {c for r in daily_rows for c in r} == {c for r in daily.values() for c in r}
    assert_rows_match("daily_overview", daily_rows, daily, ("day", "currency"))

    payouts = marts_truth.payout_details(api)
    assert {p["currency"] for p in payouts.values()} == set(majors)
    automatic = [p for p in payouts.values() if p["automatic"]]
    assert automatic and all(p["settled_activity_count"] > 0 for p in automatic)
    assert any(not p["automatic"] for p in payouts.values())  # a manual one settles nothing
    # Stripe's payout reconciliation: what an automatic payout settled nets to its amount.
    assert all(p["settled_net"] == p["amount"] for p in automatic)
    assert_rows_match("payout_details", rows("select * from stripe_marts.payout_details"),
                      payouts, ("payout_id",))  # fmt: skip

    # major units: written out here, independently of the project's macro and of the truth's
    for model in ("mrr_summary", "daily_overview", "payout_details"):
        for row in rows(f"select * from stripe_marts.{model}"):
            scale = 10 ** int(majors[row["currency"]])
            for column in [c for c in row if c + "_major" in row and row[c] is not None]:
                assert row[column + "_major"] * scale == row[column], (model, column, row)


MRR_SQL = """select subscription_item_id, month, currency, mrr, previous_mrr, movement_type
from stripe_marts.mrr_by_subscription_item"""


def test_marts_build_on_a_sandbox_load_and_match_ground_truth(marts_sandbox, marts_env, instance):
    # Before any load every table reads as empty: the marts still build and pass their checks.
    assert_models_and_checks_passed(build_marts(instance))
    assert marts_env.query("select count(*) from stripe_marts.mrr_summary") == [(0,)]

    load_marts_sandbox(marts_sandbox, marts_env.path.parent)
    result = build_marts(instance)
    assert_models_and_checks_passed(result)

    truth = mrr_by_item(
        StripeApi(marts_sandbox.base_url, marts_sandbox.api_key), date.fromisoformat(AS_OF)
    )
    assert {kind for *_, kind in truth.values()} >= {"new", "churned"}, "truth too thin"
    assert mrr_rows(marts_env.query(MRR_SQL)) == truth
    assert_marts_match_truth(lambda sql: duckdb_rows(marts_env.path, sql), marts_sandbox)

    for model, documented in documented_columns().items():  # every column, documented
        columns = marts_env.query(
            "select column_name from information_schema.columns "
            f"where table_schema = 'stripe_marts' and table_name = '{model}'"
        )
        assert {c for (c,) in columns} == set(documented), model
        assert all(documented.values()), model

    loaded = marts_env.counts()
    for model, table in [("invoice_line_item_details", "invoice_line_items"),
                         ("invoice_details", "invoices"), ("payout_details", "payouts"),
                         ("subscription_details", "subscriptions")]:  # fmt: skip
        assert marts_env.query(f"select count(*) from stripe_marts.{model}") == [(loaded[table],)]

    summary = next(
        e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == AssetKey(["stripe_marts", "mrr_summary"])
    )
    (june_mrr, june_active), = marts_env.query(
        "select sum(mrr_major), sum(active_subscriptions) from stripe_marts.mrr_summary "
        f"where month = date '{AS_OF[:8]}01' and currency = 'usd'"
    )  # fmt: skip
    assert summary["month"].value == f"{AS_OF[:8]}01"
    assert summary["mrr_usd"].value == pytest.approx(float(june_mrr))
    assert summary["arr_usd"].value == pytest.approx(12 * float(june_mrr))
    assert summary["active_subscriptions_usd"].value == june_active
    assert "customer_churn_rate_usd" in summary and "revenue_churn_rate_usd" in summary


@pytest.mark.postgres
def test_marts_build_on_postgres(marts_sandbox, instance, postgres_url, monkeypatch, tmp_path):
    monkeypatch.setenv("STRIPE_API_BASE", marts_sandbox.base_url)
    monkeypatch.setenv("STRIPE_API_KEY", marts_sandbox.api_key)
    monkeypatch.setenv("STRIPE_REQUESTS_PER_SECOND", UNLIMITED)
    monkeypatch.setenv("STRIPE_DESTINATION", "postgres")
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_url)

    load_marts_sandbox(marts_sandbox, tmp_path)
    assert_models_and_checks_passed(build_marts(instance))

    truth = mrr_by_item(
        StripeApi(marts_sandbox.base_url, marts_sandbox.api_key), date.fromisoformat(AS_OF)
    )
    with psycopg2.connect(postgres_url) as con, con.cursor() as cur:
        cur.execute(MRR_SQL)
        assert mrr_rows(cur.fetchall()) == truth
    assert_marts_match_truth(lambda sql: postgres_rows(postgres_url, sql), marts_sandbox)
