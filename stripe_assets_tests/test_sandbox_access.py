"""The sandbox acts as Stripe does for a restricted key without a permission and for an
account that is not a Connect platform; catalog objects change and disappear with events."""

from __future__ import annotations

from typing import Any

import pytest

from stripe_assets.sandbox import running_sandbox
from stripe_assets.tables import TABLES_BY_NAME
from stripe_assets_tests.sandbox_fixtures import Client, small_config

RESTRICTED = "rk_test_" + "limitedReadOnly0042"


@pytest.fixture(scope="module")
def sb() -> Any:
    cfg = small_config(seed=9, restricted_keys={RESTRICTED: ["Payouts", "Events"]})
    with running_sandbox(cfg) as handle:
        yield handle


def test_a_restricted_key_is_refused_what_it_lacks_only(sb: Any) -> None:
    c = Client(sb.base_url, RESTRICTED)
    status, _, body = c.get("/v1/payouts")
    assert status == 403
    message = body["error"]["message"]
    assert "'rak_payout_read' permission" in message and RESTRICTED not in message
    assert RESTRICTED[-4:] in message  # masked, as Stripe does
    assert c.get("/v1/events")[0] == 403
    assert c.get("/v1/charges")[0] == 200
    payout = sb.mutate([{"op": "create", "resource": "payouts"}])["results"][0]["id"]
    assert c.get(f"/v1/payouts/{payout}")[0] == 403  # retrieve too
    assert Client(sb.base_url, sb.api_key).get(f"/v1/payouts/{payout}")[0] == 200
    c.close()


def test_an_account_that_is_no_platform_has_no_connect_lists() -> None:
    with running_sandbox(small_config(seed=9, platform=False)) as sb:
        c = Client(sb.base_url, sb.api_key)
        status, _, body = c.get("/v1/accounts")
        assert status == 403
        assert body["error"]["message"].startswith("Only Stripe Connect platforms")
        assert c.ok("/v1/transfers")["data"] == []
        assert c.ok("/v1/application_fees")["data"] == []
        assert c.ok("/v1/account")["id"].startswith("acct_")  # its own account is readable
        counts = sb.counts(0, 2**40)
        assert counts["accounts"] == counts["transfers"] == counts["persons"] == 0
        c.close()


def test_catalog_objects_change_and_leave_with_their_events(sb: Any) -> None:
    c = Client(sb.base_url, sb.api_key)
    coupons = c.walk("/v1/coupons")
    prices = c.walk("/v1/prices")
    plans = c.walk("/v1/plans")
    assert coupons and prices and plans
    assert {p["id"] for p in plans} == {p["id"] for p in prices if p["type"] == "recurring"}
    res = sb.mutate([
        {"op": "delete", "resource": "coupons", "id": coupons[0]["id"]},
        {"op": "update", "resource": "prices", "id": prices[0]["id"],
         "changes": {"metadata": {"tier": "gold"}}},
        {"op": "create", "resource": "coupons"},
    ])  # fmt: skip
    assert [e["type"] for e in res["events"]] == [
        "coupon.deleted",
        "price.updated",
        "coupon.created",
    ]
    after = c.walk("/v1/coupons")
    assert coupons[0]["id"] not in {x["id"] for x in after}
    assert len(after) == len(coupons)  # one deleted, one created
    assert c.ok(f"/v1/prices/{prices[0]['id']}")["metadata"] == {"tier": "gold"}
    assert c.ok(f"/v1/coupons/{coupons[0]['id']}")["deleted"] is True
    assert TABLES_BY_NAME["coupons"].snapshot
    c.close()
