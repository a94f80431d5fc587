"""The catalog tables are snapshots: one unpartitioned asset reads each list whole and
replaces the table, so updates arrive and what Stripe no longer lists (a deleted coupon)
leaves; the daily schedule refreshes them and the events sensor requests them on their
events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from dagster import AssetKey, build_schedule_context, build_sensor_context, materialize

from stripe_assets import automation
from stripe_assets.assets import stripe_catalog
from stripe_assets.definitions import defs
from stripe_assets.tables import TABLES
from stripe_assets_tests.conftest import Warehouse
from stripe_assets_tests.sandbox_fixtures import Client

CATALOG = [t for t in TABLES if t.snapshot]


def _load_catalog(instance: Any) -> Any:
    assert stripe_catalog is not None
    return materialize([stripe_catalog], instance=instance, resources=defs.resources)


def _counts(warehouse: Warehouse) -> dict[str, int]:
    return {t.name: warehouse.count(t.name) if warehouse.has(t.name) else 0 for t in CATALOG}


def _truth(sandbox: Any) -> dict[str, int]:
    everything = sandbox.counts()
    return {t.name: everything[t.name] for t in CATALOG}


def test_catalog_snapshots_follow_updates_and_deletions(mutable, warehouse, instance):
    result = _load_catalog(instance)
    assert result.success
    assert _counts(warehouse) == _truth(mutable) and all(_truth(mutable).values())
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert materialized == {t.name for t in CATALOG}
    for event in result.get_asset_materialization_events():
        assert event.partition is None  # snapshots have no partitions

    c = Client(mutable.base_url, mutable.api_key)
    coupon = c.ok("/v1/coupons", {"limit": 1})["data"][0]
    price = c.ok("/v1/prices", {"limit": 1})["data"][0]
    c.close()
    cursor = _tick(instance, None).cursor
    mutable.mutate([
        {"op": "delete", "resource": "coupons", "id": coupon["id"]},
        {"op": "update", "resource": "prices", "id": price["id"],
         "changes": {"metadata": {"tier": "gold"}}},
        {"op": "create", "resource": "products", "name": "Brand new"},
    ])  # fmt: skip
    tick = _tick(instance, cursor)
    (request,) = tick.run_requests
    assert request.partition_key is None
    assert {k.path[-1] for k in request.asset_selection} == {"coupons", "prices", "products"}

    assert _load_catalog(instance).success
    assert _counts(warehouse) == _truth(mutable)
    assert warehouse.query(f"select count(*) from stripe.coupons where id = '{coupon['id']}'") == [
        (0,)
    ]
    (metadata,) = warehouse.query(f"select metadata from stripe.prices where id = '{price['id']}'")
    assert json.loads(metadata[0]) == {"tier": "gold"}
    assert warehouse.query("select count(*) from stripe.products where name = 'Brand new'") == [
        (1,)
    ]


def test_the_daily_schedule_refreshes_the_catalog(instance):
    schedule = defs.resolve_schedule_def("stripe_daily_schedule")
    tick = datetime(2024, 5, 5, 0, 15, tzinfo=UTC)
    data = schedule.evaluate_tick(
        build_schedule_context(
            instance=instance,
            scheduled_execution_time=tick,
            repository_def=defs.get_repository_def(),
        )
    )
    catalog = [r for r in data.run_requests if r.run_key.startswith("stripe-catalog:")]
    assert catalog[0].partition_key is None and not catalog[0].partition_key_range
    (request,) = catalog
    assert set(request.asset_selection) == {AssetKey(["stripe", t.name]) for t in CATALOG}
    daily = next(r for r in data.run_requests if r.partition_key == "2024-05-04")
    assert not set(daily.asset_selection) & set(request.asset_selection)


def _tick(instance: Any, cursor: str | None) -> Any:
    sensor = defs.resolve_sensor_def("stripe_events_sensor")
    return sensor.evaluate_tick(
        build_sensor_context(
            instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
        )
    )


__all__ = ["automation"]
