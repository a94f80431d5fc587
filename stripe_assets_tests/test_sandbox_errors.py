"""Stripe's error format and status codes, auth, and the Request-Id / Stripe-Version headers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from stripe_assets.sandbox import spec
from stripe_assets.tables import TABLES, TABLES_BY_NAME, StripeTable
from stripe_assets_tests.sandbox_fixtures import (  # noqa: F401  (pytest fixtures)
    Client,
    module_sandbox,
    sandbox_client,
)


def error(client: Client, path: str, params: Any = None, **kw: Any) -> tuple[int, dict]:
    status, headers, body = client.get(path, params, **kw)
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["type"] in ("invalid_request_error", "api_error"), err
    assert err["message"]
    assert re.fullmatch(r"req_[0-9A-Za-z]{10,}", headers["request-id"])
    return status, err


def test_missing_key_is_401(client: Client) -> None:
    status, err = error(client, "/v1/charges", auth=None)
    assert status == 401
    assert "did not provide an API key" in err["message"]


@pytest.mark.parametrize("wrong", ["sk_test_wrongwrongwrong9876", "sk_live_" + "abcdefghijklmnop"])
def test_wrong_key_is_401_and_masked(sandbox: Any, wrong: str) -> None:
    c = Client(sandbox.base_url, wrong)
    status, err = error(c, "/v1/customers")
    assert status == 401
    assert wrong not in err["message"]
    assert wrong[-4:] in err["message"]
    assert "****" in err["message"]
    assert err["message"].startswith("Invalid API Key provided: " + "_".join(wrong.split("_")[:2]))
    c.close()


def test_basic_auth_and_bearer_both_work(sandbox: Any) -> None:
    c = Client(sandbox.base_url, sandbox.api_key)
    assert c.get("/v1/charges", auth="basic")[0] == 200
    assert c.get("/v1/charges", auth="bearer")[0] == 200
    c.close()
    bad = Client(sandbox.base_url, "sk_test_nottherightone")
    assert bad.get("/v1/charges", auth="basic")[0] == 401
    bad.close()


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"created": "yesterday"}, "created"),
        ({"created[gte]": "1.5"}, "created[gte]"),
        ({"created[since]": 1}, "created[since]"),
        ({"colour": "blue"}, "colour"),
        ({"starting_after": "ch_doesnotexist"}, "starting_after"),
        ({"ending_before": "ch_doesnotexist"}, "ending_before"),
    ],
)
def test_bad_list_params_are_400(client: Client, params: dict, param: str) -> None:
    status, err = error(client, "/v1/charges", params)
    assert status == 400
    assert err["param"] == param


def test_cursor_of_another_type_is_resource_missing(client: Client) -> None:
    customer = client.ok("/v1/customers", {"limit": 1})["data"][0]
    status, err = error(client, "/v1/charges", {"starting_after": customer["id"]})
    assert (status, err["code"], err["param"]) == (400, "resource_missing", "starting_after")


def test_both_cursors_is_400(client: Client) -> None:
    ids = [c["id"] for c in client.ok("/v1/charges", {"limit": 2})["data"]]
    status, _ = error(client, "/v1/charges", {"starting_after": ids[0], "ending_before": ids[1]})
    assert status == 400


def test_subscription_items_needs_subscription(client: Client) -> None:
    status, err = error(client, "/v1/subscription_items")
    assert (status, err["param"]) == (400, "subscription")
    status, err = error(client, "/v1/subscription_items", {"subscription": "sub_nope"})
    assert (status, err["code"]) == (400, "resource_missing")


def test_child_cursor_must_belong_to_parent(client: Client) -> None:
    invoices = client.walk("/v1/invoices")
    a, b = invoices[0], invoices[1]
    status, err = error(
        client, f"/v1/invoices/{a['id']}/lines", {"starting_after": b["lines"]["data"][0]["id"]}
    )
    assert (status, err["code"], err["param"]) == (400, "resource_missing", "starting_after")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/charges/ch_1doesnotexist",
        "/v1/customers/cus_nope",
        "/v1/invoices/in_nope",
        "/v1/invoices/in_nope/lines",
        "/v1/subscriptions/sub_nope",
        "/v1/payouts/po_nope",
        "/v1/balance_transactions/txn_nope",
        "/v1/events/evt_nope",
        "/v1/subscription_items/si_nope",
    ],
)
def test_unknown_ids_are_404(client: Client, path: str) -> None:
    status, err = error(client, path)
    assert (status, err["code"]) == (404, "resource_missing")
    assert path.rsplit("/", 2)[-2 if path.endswith("/lines") else -1] in err["message"]


@pytest.mark.parametrize("path", ["/v1/widgets", "/v1/charges/ch_x/refundz", "/v2/charges", "/"])
def test_unknown_paths_are_404(client: Client, path: str) -> None:
    status, err = error(client, path)
    assert status == 404
    assert "Unrecognized request URL" in err["message"]


def test_request_id_and_stripe_version_headers(client: Client) -> None:
    seen = set()
    for path in ("/v1/charges", "/v1/nope", "/_sandbox/health"):
        _status, headers, _ = client.raw("GET", path)
        assert headers["request-id"].startswith("req_")
        assert headers["stripe-version"] == "2022-11-15"
        seen.add(headers["request-id"])
    _status, headers, _ = client.raw("GET", "/v1/charges", headers={"Stripe-Version": "2024-06-20"})
    assert headers["stripe-version"] == "2024-06-20"
    seen.add(headers["request-id"])
    assert len(seen) == 4


def test_deleted_customer_retrieve(sandbox: Any, client: Client) -> None:
    result = sandbox.mutate([{"op": "delete", "resource": "customers"}])
    cid = result["results"][0]["id"]
    assert client.ok(f"/v1/customers/{cid}") == {"id": cid, "object": "customer", "deleted": True}


def test_stats_count_templates_and_statuses(sandbox: Any, client: Client) -> None:
    sandbox.reset_stats()
    inv = client.ok("/v1/invoices", {"limit": 2})["data"]
    for i in inv:
        client.ok(f"/v1/invoices/{i['id']}/lines")
    client.get("/v1/charges/ch_nope")
    client.get("/v1/charges", auth=None)
    stats = sandbox.stats()
    assert stats["total"] == 5
    assert stats["by_path"]["/v1/invoices/{id}/lines"] == {"200": 2, "total": 2}
    assert stats["by_path"]["/v1/invoices"] == {"200": 1, "total": 1}
    assert stats["by_path"]["/v1/charges/{id}"] == {"404": 1, "total": 1}
    assert stats["by_status"] == {"200": 3, "404": 1, "401": 1}


def test_balance_history_of_a_manual_payout_is_refused_like_stripe(client: Client) -> None:
    payouts = client.ok("/v1/payouts", {"limit": 100})["data"]
    manual = [p for p in payouts if not p["automatic"]]
    automatic = [p for p in payouts if p["automatic"]]
    assert manual and automatic, "the sandbox should hold both kinds of payout"
    status, err = error(client, "/v1/balance_transactions", {"payout": manual[0]["id"]})
    assert status == 400
    assert err["param"] == "payout"
    assert "automatic" in err["message"]
    assert client.ok("/v1/balance_transactions", {"payout": automatic[0]["id"]})["object"] == "list"


LISTS = [t for t in TABLES if "{" not in t.path]


@pytest.mark.parametrize("entry", LISTS, ids=lambda t: t.name)
def test_each_list_takes_exactly_the_parameters_stripes_spec_gives_it(
    client: Client, entry: StripeTable
) -> None:
    params = dict(entry.params)
    if entry.child:  # a child list filtered by its parent needs one
        params |= {k: v.replace("{id}", "x") for k, v in entry.child.params.items()}
    allowed = spec.operations()[entry.path].params
    status, err = error(client, entry.path, {**params, "colour": "blue"})
    assert (status, err["message"], err["param"]) == (
        400,
        "Received unknown parameter: colour",
        "colour",
    )
    status, _, body = client.get(entry.path, {**params, "created[gte]": 1})
    if "created" in allowed:
        assert status in (200, 400) and "unknown parameter" not in json.dumps(body)
    else:
        assert (status, body["error"]["message"]) == (400, "Received unknown parameter: created")


@pytest.mark.parametrize("entry", [t for t in TABLES if "{" in t.path], ids=lambda t: t.name)
def test_child_lists_refuse_filters_they_do_not_take(client: Client, entry: StripeTable) -> None:
    assert entry.child is not None
    parent = TABLES_BY_NAME[entry.child.parent]
    one = client.ok(parent.path, {**parent.params, "limit": 1})["data"][0]
    path = entry.path.replace("{id}", one["id"])
    for param in ("created", "customer", "colour"):
        status, err = error(client, path, {param: "1"})
        assert (status, err["message"]) == (400, f"Received unknown parameter: {param}")
