"""Every kind of object the sandbox serves validates against Stripe's OpenAPI schema."""

from __future__ import annotations

from typing import Any

import pytest

from stripe_assets_tests.sandbox_fixtures import (  # noqa: F401  (pytest fixtures)
    Client,
    assert_valid,
    module_sandbox,
    sandbox_client,
)

LISTS = [
    ("/v1/charges", "charge", {}),
    ("/v1/customers", "customer", {}),
    ("/v1/invoices", "invoice", {}),
    ("/v1/subscriptions", "subscription", {"status": "all"}),
    ("/v1/payouts", "payout", {}),
    ("/v1/balance_transactions", "balance_transaction", {}),
]


@pytest.mark.parametrize(("path", "schema", "params"), LISTS)
def test_list_items_and_retrieves_validate(
    client: Client, path: str, schema: str, params: dict[str, Any]
) -> None:
    objs = client.walk(path, params)
    assert objs, f"{path} served nothing"
    for obj in objs:
        assert obj["object"] == schema
        assert_valid(schema, obj)
    # retrieve a spread of them and compare with the list rendering
    for obj in objs[:: max(1, len(objs) // 15)]:
        got = client.ok(f"{path}/{obj['id']}")
        assert got == obj
        assert_valid(schema, got)


def test_children_validate(client: Client) -> None:
    invoices = client.walk("/v1/invoices")
    big = max(invoices, key=lambda i: i["lines"]["total_count"])
    for line in client.walk(f"/v1/invoices/{big['id']}/lines"):
        assert_valid("line_item", line)
        assert line["invoice"] == big["id"]
    for inv in invoices[:30]:
        for line in inv["lines"]["data"]:
            assert_valid("line_item", line)
    subs = client.walk("/v1/subscriptions", {"status": "all"})
    big_sub = max(subs, key=lambda s: s["items"]["total_count"])
    items = client.walk("/v1/subscription_items", {"subscription": big_sub["id"]})
    assert len(items) == big_sub["items"]["total_count"]
    for item in items:
        assert_valid("subscription_item", item)
        assert item["subscription"] == big_sub["id"]
        assert client.ok(f"/v1/subscription_items/{item['id']}") == item
    payouts = [p for p in client.walk("/v1/payouts") if p["automatic"]]  # manual: a 400
    busiest = max(
        payouts, key=lambda p: len(client.walk("/v1/balance_transactions", {"payout": p["id"]}))
    )
    txns = client.walk("/v1/balance_transactions", {"payout": busiest["id"]})
    assert txns
    for txn in txns:
        assert_valid("balance_transaction", txn)
        charge = client.ok(f"/v1/charges/{txn['source']}")
        assert charge["balance_transaction"] == txn["id"]
        assert charge["amount"] == txn["amount"]


def test_account_and_events_validate(client: Client, sandbox: Any) -> None:
    assert_valid("account", client.ok("/v1/account"))
    sandbox.mutate(
        [
            {"op": "create", "resource": "customers"},
            {"op": "update", "resource": "customers"},
            {"op": "create", "resource": "charges"},
            {"op": "refund", "resource": "charges"},
            {"op": "create", "resource": "invoices", "lines": 12},
            {"op": "pay", "resource": "invoices"},
            {"op": "create", "resource": "subscriptions", "items": 11},
            {"op": "cancel", "resource": "subscriptions"},
            {"op": "create", "resource": "payouts"},
            {"op": "delete", "resource": "customers"},
        ]
    )
    events = client.walk("/v1/events")
    assert len(events) >= 10
    schema_of = {
        "customer": "customer",
        "charge": "charge",
        "invoice": "invoice",
        "subscription": "subscription",
        "payout": "payout",
    }
    for ev in events:
        assert_valid("event", ev)
        obj = ev["data"]["object"]
        assert_valid(schema_of[obj["object"]], obj)
        assert client.ok(f"/v1/events/{ev['id']}") == ev
