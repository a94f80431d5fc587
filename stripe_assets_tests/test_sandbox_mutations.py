"""Admin mutations change objects like Stripe would, emit the matching events and move counts;
the sandbox clock drives event retention."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from stripe_assets.sandbox import running_sandbox
from stripe_assets_tests.sandbox_fixtures import (  # noqa: F401  (pytest fixture c)
    DAY,
    Client,
    assert_valid,
    own_sandbox_client,
    small_config,
)


@pytest.fixture(scope="module")
def sb() -> Any:
    with running_sandbox(small_config(seed=21)) as handle:
        yield handle


def everything(sb: Any) -> dict[str, int]:
    return sb.counts(0, 2**40)


def event(c: Client, ev: dict[str, Any]) -> dict[str, Any]:
    got = c.ok(f"/v1/events/{ev['id']}")
    assert got["type"] == ev["type"]
    assert_valid("event", got)
    return got


def test_update_customer(sb: Any, c: Client) -> None:
    before_counts = everything(sb)
    cust = c.ok("/v1/customers", {"limit": 5})["data"][3]
    res = sb.mutate(
        [
            {
                "op": "update",
                "resource": "customers",
                "id": cust["id"],
                "changes": {"name": "Renamed Person", "metadata": {"tier": "gold"}},
            }
        ]
    )
    (r,) = res["results"]
    assert r["id"] == cust["id"]
    assert [e["type"] for e in r["events"]] == ["customer.updated"]
    ev = event(c, r["events"][0])
    assert ev["data"]["object"]["name"] == "Renamed Person"
    assert ev["data"]["previous_attributes"] == {"name": cust["name"], "metadata": {}}
    assert ev["created"] == res["now"]
    got = c.ok(f"/v1/customers/{cust['id']}")
    assert got == ev["data"]["object"]
    assert got["created"] == cust["created"]
    assert got["metadata"] == {"tier": "gold"}
    assert everything(sb) == {**before_counts, "events": before_counts["events"] + 1}
    # the list serves the updated object too
    listed = c.walk("/v1/customers", {"created": cust["created"]})
    assert got in listed


def test_delete_customer_changes_counts(sb: Any, c: Client) -> None:
    cust = c.ok("/v1/customers", {"limit": 1, "created[lt]": sb.config.end_ts - 2 * DAY})
    cust = cust["data"][0]
    window = (cust["created"], cust["created"] + 1)
    before = sb.counts(*window)
    res = sb.mutate([{"op": "delete", "resource": "customers", "id": cust["id"]}])
    (ev,) = res["events"]
    assert ev["type"] == "customer.deleted"
    assert event(c, ev)["data"]["object"]["id"] == cust["id"]
    after = sb.counts(*window)
    assert after["customers"] == before["customers"] - 1
    listed = c.walk("/v1/customers", {"created[gte]": window[0], "created[lt]": window[1]})
    assert cust["id"] not in {x["id"] for x in listed}
    assert len(listed) == after["customers"]
    assert c.ok(f"/v1/customers/{cust['id']}")["deleted"] is True
    # deleting again is refused
    status, _, _ = c.raw(
        "POST",
        "/_sandbox/mutate",
        body={"actions": [{"op": "delete", "resource": "customers", "id": cust["id"]}]},
    )
    assert status == 400


def test_creates_get_now_and_show_up(sb: Any, c: Client) -> None:
    now = sb.now()
    window = (now - 5, now + 3600)
    before = sb.counts(*window)
    res = sb.mutate(
        [
            {"op": "create", "resource": "customers", "name": "New Customer"},
            {"op": "create", "resource": "charges", "amount": 4321},
            {"op": "create", "resource": "invoices", "lines": 23},
            {"op": "create", "resource": "subscriptions", "items": 14},
            {"op": "create", "resource": "payouts", "amount": 999},
        ]
    )
    types = [e["type"] for e in res["events"]]
    assert types == [
        "customer.created",
        "charge.succeeded",
        "invoice.created",
        "customer.subscription.created",
        "payout.created",
    ]
    after = sb.counts(*window)
    diff = {k: after[k] - before[k] for k in after}
    # As in Stripe: a charge comes with its payment intent and balance transaction, an
    # invoice's lines with their invoice items, a subscription with its first invoice (one
    # line per item), a payout with its own balance transaction.
    expected = dict.fromkeys(diff, 0) | {
        "customers": 1,
        "charges": 1,
        "payment_intents": 1,
        "balance_transactions": 2,
        "invoices": 2,
        "invoice_line_items": 23 + 14,
        "invoice_items": 23,
        "subscriptions": 1,
        "subscription_items": 14,
        "payouts": 1,
        "events": 5,
    }
    assert diff == expected
    for r in res["results"]:
        assert now <= r["created"] <= res["now"]
    inv_id = res["results"][2]["id"]
    inv = c.ok(f"/v1/invoices/{inv_id}")
    assert inv["lines"]["total_count"] == 23 and inv["lines"]["has_more"]
    assert len(c.walk(f"/v1/invoices/{inv_id}/lines")) == 23
    sub = c.ok(f"/v1/subscriptions/{res['results'][3]['id']}")
    assert len(c.walk("/v1/subscription_items", {"subscription": sub["id"]})) == 14
    newest = c.ok("/v1/charges", {"limit": 1})["data"][0]
    assert newest["id"] == res["results"][1]["id"] and newest["amount"] == 4321
    txn = c.ok(f"/v1/balance_transactions/{newest['balance_transaction']}")
    assert txn["source"] == newest["id"]


def test_pay_refund_cancel(sb: Any, c: Client) -> None:
    open_inv = c.walk("/v1/invoices", {"status": "open"})[0]
    res = sb.mutate([{"op": "pay", "resource": "invoices", "id": open_inv["id"]}])
    assert [e["type"] for e in res["events"]] == [
        "charge.succeeded",
        "invoice.updated",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]
    upd = event(c, res["events"][1])
    assert upd["data"]["previous_attributes"]["status"] == "open"
    inv = c.ok(f"/v1/invoices/{open_inv['id']}")
    assert inv["status"] == "paid" and inv["paid"] is True and inv["created"] == open_inv["created"]
    charge = c.ok(f"/v1/charges/{inv['charge']}")
    assert charge["invoice"] == inv["id"] and charge["amount"] == inv["total"]

    ch = c.walk("/v1/charges", {"limit": 100})
    target = next(x for x in ch if x["status"] == "succeeded" and not x["refunded"])
    res = sb.mutate([{"op": "refund", "resource": "charges", "id": target["id"]}])
    assert [e["type"] for e in res["events"]] == [
        "charge.refunded",
        "charge.updated",
        "refund.created",
    ]
    refund = c.ok(f"/v1/refunds/{res['results'][0]['created_ids'][0]}")
    assert (refund["charge"], refund["amount"]) == (target["id"], target["amount"])
    txn = c.ok(f"/v1/balance_transactions/{refund['balance_transaction']}")
    assert (txn["type"], txn["amount"], txn["source"]) == (
        "refund",
        -target["amount"],
        refund["id"],
    )
    got = c.ok(f"/v1/charges/{target['id']}")
    assert got["refunded"] is True and got["amount_refunded"] == got["amount"]

    active = c.ok("/v1/subscriptions", {"status": "active", "limit": 1})["data"][0]
    total_before = everything(sb)["subscriptions"]
    res = sb.mutate([{"op": "cancel", "resource": "subscriptions", "id": active["id"]}])
    assert [e["type"] for e in res["events"]] == ["customer.subscription.deleted"]
    got = c.ok(f"/v1/subscriptions/{active['id']}")
    assert got["status"] == "canceled" and got["canceled_at"] is not None
    default_ids = {s["id"] for s in c.walk("/v1/subscriptions")}
    assert active["id"] not in default_ids
    assert active["id"] in {s["id"] for s in c.walk("/v1/subscriptions", {"status": "canceled"})}
    assert everything(sb)["subscriptions"] == total_before


def test_random_mutations_and_event_filters(sb: Any, c: Client) -> None:
    before = len(c.walk("/v1/events"))
    res = sb.mutate(random=60)
    assert len(res["results"]) == 60
    events = c.walk("/v1/events")
    assert len(events) == before + len(res["events"]) == everything(sb)["events"]
    assert [e["id"] for e in events[: len(res["events"])]] == [
        e["id"] for e in reversed(res["events"])
    ]
    by_type = Counter(e["type"] for e in events)
    for etype, n in by_type.items():
        assert len(c.walk("/v1/events", {"type": etype})) == n
    customer_kinds = sum(n for t, n in by_type.items() if t.startswith("customer."))
    assert len(c.walk("/v1/events", {"type": "customer.*"})) == customer_kinds
    two = sorted(by_type)[:2]
    got = c.walk("/v1/events", [("types[]", two[0]), ("types[]", two[1])])
    assert len(got) == by_type[two[0]] + by_type[two[1]]


def test_event_retention_follows_the_clock() -> None:
    with running_sandbox(small_config(seed=5)) as sb:
        c = Client(sb.base_url, sb.api_key)
        old = sb.mutate(random=5)["events"]
        assert len(c.walk("/v1/events")) == len(old) >= 5
        sb.advance_clock(29 * DAY)
        assert len(c.walk("/v1/events")) == len(old)
        sb.advance_clock(2 * DAY)
        assert c.walk("/v1/events") == []
        assert sb.counts(0, 2**40)["events"] == 0
        status, _, body = c.get(f"/v1/events/{old[0]['id']}")
        assert status == 404
        status, _, body = c.get("/v1/events", {"starting_after": old[0]["id"]})
        assert (status, body["error"]["code"], body["error"]["param"]) == (
            400,
            "resource_missing",
            "starting_after",
        )
        new = sb.mutate([{"op": "create", "resource": "customers"}])
        assert new["results"][0]["created"] >= old[0]["created"] + 31 * DAY
        assert [e["id"] for e in c.walk("/v1/events")] == [new["events"][0]["id"]]
        c.close()


def test_background_activity(sb: Any, c: Client) -> None:
    import time

    before = everything(sb)["events"]
    sb.configure(activity_per_second=40)
    time.sleep(1.0)
    sb.configure(activity_per_second=0)
    time.sleep(0.15)
    after = everything(sb)["events"]
    assert after - before >= 15
    assert len(c.walk("/v1/events")) == after
