"""Permission problems are visible, never silent, never blocking: a table Stripe refuses to
list (a restricted key without its permission, Connect lists on an account that is no
platform) is not loaded and not materialized, its `readable` check fails with Stripe's
reason, and every other table loads exactly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dagster import AssetKey

from stripe_assets.assets import READABLE
from stripe_assets.automation import JOB_NAME
from stripe_assets.definitions import defs
from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets.tables import TABLES_BY_NAME
from stripe_assets_tests.conftest import DAILY, UNLIMITED, Warehouse, day_window

RESTRICTED = "rk_test_" + "noPayoutsNoEvents77"
DAY = "2024-05-03"


def _run(instance: Any) -> Any:
    return defs.resolve_job_def(JOB_NAME).execute_in_process(
        instance=instance,
        partition_key=DAY,
        asset_selection=[AssetKey(["stripe", t.name]) for t in DAILY],
    )


@pytest.fixture
def restricted(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    cfg = SandboxConfig(
        seed=5, start="2024-05-01", end="2024-05-06",
        restricted_keys={RESTRICTED: ["Payouts", "Balance transaction sources"]},
    )  # fmt: skip
    with running_sandbox(cfg) as sb:
        monkeypatch.setenv("STRIPE_API_BASE", sb.base_url)
        monkeypatch.setenv("STRIPE_API_KEY", RESTRICTED)
        monkeypatch.setenv("STRIPE_REQUESTS_PER_SECOND", UNLIMITED)
        yield sb


def _outcome(result: Any) -> tuple[set[str], dict[str, tuple[bool, str]]]:
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    readable = {
        e.asset_key.path[-1]: (e.passed, e.description or "")
        for e in result.get_asset_check_evaluations()
        if e.check_name == READABLE
    }
    return materialized, readable


def test_a_restricted_key_loads_what_it_may_and_reports_the_rest(restricted, warehouse, instance):
    result = _run(instance)
    assert result.success  # the refused tables do not fail the run
    materialized, readable = _outcome(result)
    refused = {"payouts", "payout_transactions", "balance_transactions"}
    assert refused.isdisjoint(materialized)
    assert {t.name for t in DAILY} - refused <= materialized
    for name in refused:
        passed, why = readable[name]
        assert not passed and "Not loaded" in why, (name, why)
    assert "'rak_payout_read' permission" in readable["payouts"][1]
    assert "parent table payouts is unavailable" in readable["payout_transactions"][1]
    assert all(passed for name, (passed, _) in readable.items() if name not in refused)
    assert RESTRICTED not in str(readable)  # masked, as Stripe masks it
    truth = restricted.counts(*day_window(DAY))
    loaded = warehouse.counts()
    assert {n: loaded[n] for n in loaded if n not in refused} == {
        t.name: truth[t.name] for t in DAILY if t.name not in refused
    }
    assert all(not warehouse.has(name) for name in refused)  # nothing posing as empty


def test_an_account_that_is_no_platform_loads_everything_but_connect(
    warehouse, instance, monkeypatch
):
    with running_sandbox(SandboxConfig(seed=5, start="2024-05-01", end="2024-05-06",
                                       platform=False)) as sb:  # fmt: skip
        monkeypatch.setenv("STRIPE_API_BASE", sb.base_url)
        monkeypatch.setenv("STRIPE_API_KEY", sb.api_key)
        monkeypatch.setenv("STRIPE_REQUESTS_PER_SECOND", UNLIMITED)
        result = _run(instance)
        truth = sb.counts(*day_window(DAY))
    assert result.success
    materialized, readable = _outcome(result)
    refused = {"accounts", "persons", "external_accounts"}
    assert refused.isdisjoint(materialized)
    assert all(TABLES_BY_NAME[n].connect for n in refused)
    assert "Only Stripe Connect platforms" in readable["accounts"][1]
    loaded = warehouse.counts()
    assert {n: loaded[n] for n in loaded if n not in refused} == {
        t.name: truth[t.name] for t in DAILY if t.name not in refused
    }
