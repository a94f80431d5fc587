"""``expand[]`` on lists and retrieves, ``/v1/accounts/{id}``, and deleting a customer cancels
its subscriptions (as Stripe does)."""

from __future__ import annotations

from typing import Any

import pytest

from stripe_assets.sandbox import running_sandbox
from stripe_assets_tests.sandbox_fixtures import (  # noqa: F401  (pytest fixtures)
    Client,
    assert_valid,
    module_sandbox,
    sandbox_client,
    small_config,
)


def test_list_expansions(client: Client) -> None:
    page = client.ok(
        "/v1/charges",
        [
            ("limit", 100),
            ("expand[]", "data.customer"),
            ("expand[]", "data.invoice.subscription"),
            ("expand[]", "data.balance_transaction"),
        ],
    )
    plain = client.ok("/v1/charges", {"limit": 100})["data"]
    assert [c["id"] for c in page["data"]] == [c["id"] for c in plain]
    seen = set()
    for got, ref in zip(page["data"], plain, strict=True):
        for prop in ("customer", "invoice", "balance_transaction"):
            if ref[prop] is None:
                assert got[prop] is None
                continue
            seen.add(prop)
            path = {"customer": "customers", "invoice": "invoices"}.get(prop)
            path = path or "balance_transactions"
            expected = client.ok(f"/v1/{path}/{ref[prop]}")
            if prop == "invoice" and expected["subscription"]:
                sub = client.ok(f"/v1/subscriptions/{expected['subscription']}")
                expected["subscription"] = sub
                seen.add("subscription")
            assert got[prop] == expected
        refs = ("customer", "invoice", "balance_transaction")
        assert {k: v for k, v in got.items() if k not in refs} == {
            k: v for k, v in ref.items() if k not in refs
        }
        assert_valid(
            "charge",
            {
                **got,
                "customer": ref["customer"],
                "invoice": ref["invoice"],
                "balance_transaction": ref["balance_transaction"],
            },
        )
    assert seen == {"customer", "invoice", "balance_transaction", "subscription"}


def test_retrieve_and_nested_list_expansions(client: Client) -> None:
    inv = next(i for i in client.walk("/v1/invoices") if i["subscription"])
    got = client.ok(
        f"/v1/invoices/{inv['id']}",
        [("expand[0]", "customer"), ("expand[1]", "lines.data.subscription")],
    )
    assert got["customer"] == client.ok(f"/v1/customers/{inv['customer']}")
    sub = client.ok(f"/v1/subscriptions/{inv['subscription']}")
    assert [li["subscription"] for li in got["lines"]["data"]] == [sub] * len(inv["lines"]["data"])
    lines = client.ok(f"/v1/invoices/{inv['id']}/lines", {"expand[]": "data.subscription_item"})[
        "data"
    ]
    assert all(li["subscription_item"]["subscription"] == sub["id"] for li in lines)
    txn = client.ok(
        "/v1/balance_transactions", {"limit": 1, "type": "charge", "expand[]": "data.source"}
    )
    (t,) = txn["data"]
    assert t["source"]["object"] == "charge" and t["source"]["balance_transaction"] == t["id"]


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/v1/charges", {"expand[]": "customer"}, "You may want to try expanding 'data.customer'"),
        ("/v1/charges", {"expand[]": "data.metadata"}, "cannot be expanded (data.metadata)"),
        ("/v1/customers", {"expand[]": "data.sources"}, "cannot be expanded (data.sources)"),
        ("/v1/account", {"expand[]": "settings"}, "cannot be expanded (settings)"),
        (
            "/v1/charges",
            {"expand[]": "data.invoice.charge.invoice.charge.invoice"},
            "more than 4 levels",
        ),
    ],
)
def test_unsupported_expansions_are_400(
    client: Client, path: str, params: dict[str, str], message: str
) -> None:
    status, _, body = client.get(path, params)
    assert status == 400
    assert message in body["error"]["message"]
    assert body["error"]["type"] == "invalid_request_error"


def test_references_to_objects_the_sandbox_lacks_are_400(client: Client) -> None:
    fee = client.ok("/v1/application_fees", {"limit": 1})["data"][0]
    assert fee["application"].startswith("ca_")  # a Connect application: not held
    status, _, body = client.get(f"/v1/application_fees/{fee['id']}", {"expand[]": "application"})
    assert status == 400
    assert "holds no application objects" in body["error"]["message"]
    # a null reference to a type the sandbox lacks expands to null, as in Stripe
    ch = client.ok("/v1/charges", {"limit": 1, "expand[]": "data.application"})["data"][0]
    assert ch["application"] is None


def test_references_between_every_held_type_expand(client: Client) -> None:
    """Invoice items on invoice lines, payment intents on charges, charges on refunds."""
    inv = next(
        i
        for i in client.walk("/v1/invoices")
        if any(li["type"] == "invoiceitem" for li in i["lines"]["data"])
    )
    got = client.ok(f"/v1/invoices/{inv['id']}", {"expand[]": "lines.data.invoice_item"})
    for line, plain in zip(got["lines"]["data"], inv["lines"]["data"], strict=True):
        if plain["type"] == "invoiceitem":
            item = line["invoice_item"]
            assert item == client.ok(f"/v1/invoiceitems/{plain['invoice_item']}")
            assert (item["invoice"], item["amount"]) == (inv["id"], plain["amount"])
    charge = client.ok("/v1/charges", {"limit": 1, "expand[]": "data.payment_intent"})["data"][0]
    assert charge["payment_intent"]["latest_charge"] == charge["id"]
    refund = client.ok("/v1/refunds", {"limit": 1, "expand[]": "data.charge"})["data"][0]
    assert refund["charge"]["amount_refunded"] >= refund["amount"]


def test_accounts_by_id(client: Client) -> None:
    account = client.ok("/v1/account")
    assert client.ok(f"/v1/accounts/{account['id']}") == account
    status, _, body = client.get("/v1/accounts/acct_1NotTheSandboxOne")
    assert status == 404
    assert body["error"]["code"] == "resource_missing"
    assert "acct_1NotTheSandboxOne" in body["error"]["message"]


def test_deleting_a_customer_cancels_its_subscriptions() -> None:
    with running_sandbox(small_config(seed=8)) as sb:
        c = Client(sb.base_url, sb.api_key)
        subs = c.walk("/v1/subscriptions", {"status": "all"})
        by_customer: dict[str, list[dict[str, Any]]] = {}
        for s in subs:
            by_customer.setdefault(s["customer"], []).append(s)
        live = {"active", "trialing", "past_due", "unpaid", "incomplete", "paused"}
        cust, own = next(
            (k, v)
            for k, v in by_customer.items()
            if sum(s["status"] in live for s in v) >= 1 and len(v) >= 2
        )
        to_cancel = [s["id"] for s in own if s["status"] in live]
        res = sb.mutate([{"op": "delete", "resource": "customers", "id": cust}])
        (r,) = res["results"]
        assert sorted(r["canceled_subscriptions"]) == sorted(to_cancel)
        types = [e["type"] for e in res["events"]]
        assert types == ["customer.subscription.deleted"] * len(to_cancel) + ["customer.deleted"]
        for ev in res["events"][:-1]:
            obj = c.ok(f"/v1/events/{ev['id']}")["data"]["object"]
            assert obj["status"] == "canceled" and obj["customer"] == cust
            assert obj["id"] in to_cancel
        for s in own:
            got = c.ok(f"/v1/subscriptions/{s['id']}")
            if s["id"] in to_cancel:
                assert got["status"] == "canceled"
                assert got["canceled_at"] >= s["created"]
            else:
                assert got == s  # already ended: untouched
        assert not {s["id"] for s in c.walk("/v1/subscriptions")} & set(to_cancel)
        assert c.ok(f"/v1/customers/{cust}")["deleted"] is True
        expanded = c.ok(f"/v1/subscriptions/{to_cancel[0]}", {"expand[]": "customer"})
        assert expanded["customer"] == {"deleted": True, "id": cust, "object": "customer"}
        c.close()
