"""Objects are rendered once (at start-up) and kept current: pages composed from the stored
renders equal fresh renders, embedded lists are joined in correctly, and every mutation shows
up at once in lists, retrieves and embedded lists."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stripe_assets.sandbox import running_sandbox
from stripe_assets_tests.sandbox_fixtures import (  # noqa: F401  (pytest fixture c)
    Client,
    assert_valid,
    own_sandbox_client,
    small_config,
)

LISTS = [
    ("/v1/charges", {}),
    ("/v1/customers", {}),
    ("/v1/invoices", {}),
    ("/v1/subscriptions", {"status": "all"}),
    ("/v1/payouts", {}),
    ("/v1/balance_transactions", {}),
]


@pytest.fixture(scope="module")
def sb() -> Any:
    with running_sandbox(small_config(seed=33)) as handle:
        yield handle


def raw_pages(c: Client, path: str, params: dict[str, Any]) -> list[bytes]:
    """Every page body of a list, byte for byte."""
    out: list[bytes] = []
    cursor: dict[str, Any] = {}
    while True:
        status, _, body = c.raw("GET", path, {**params, **cursor, "limit": 100})
        assert status == 200, body[:200]
        out.append(body)
        parsed = json.loads(body)
        if not parsed["has_more"]:
            return out
        cursor = {"starting_after": parsed["data"][-1]["id"]}


def test_prerendered_and_lazy_sandboxes_serve_the_same_bytes() -> None:
    cfg = small_config(seed=34)
    bodies: list[dict[str, list[bytes]]] = []
    for prerender in (True, False):
        with running_sandbox(cfg.replace(prerender=prerender)) as sb:
            info = sb.info()
            assert (info["render_seconds"] > 0) is prerender
            c = Client(sb.base_url, sb.api_key)
            got = {path: raw_pages(c, path, params) for path, params in LISTS}
            inv = [x for p in got["/v1/invoices"] for x in _data(p)]
            big = max(inv, key=lambda i: i["lines"]["total_count"])
            got["lines"] = raw_pages(c, f"/v1/invoices/{big['id']}/lines", {})
            c.close()
        bodies.append(got)
    assert bodies[0] == bodies[1]
    assert sum(len(v) for v in bodies[0].values()) > len(LISTS)


def _data(body: bytes) -> list[dict[str, Any]]:
    return json.loads(body)["data"]


def embedded_ok(c: Client, parent: dict[str, Any]) -> None:
    """The parent's embedded list is the first page of its child list."""
    if parent["object"] == "invoice":
        emb, children = parent["lines"], c.walk(f"/v1/invoices/{parent['id']}/lines")
    else:
        emb = parent["items"]
        children = c.walk("/v1/subscription_items", {"subscription": parent["id"]})
    assert emb["total_count"] == len(children)
    assert emb["data"] == children[:10]
    assert emb["has_more"] == (len(children) > 10)


def listed(c: Client, path: str, obj: dict[str, Any], **extra: Any) -> dict[str, Any]:
    page = c.ok(path, {"created": obj["created"], "limit": 100, **extra})["data"]
    (got,) = [x for x in page if x["id"] == obj["id"]]
    return got


def test_patched_parents_keep_their_embedded_lists(sb: Any, c: Client) -> None:
    invoices = c.walk("/v1/invoices")
    inv = max(invoices, key=lambda i: i["lines"]["total_count"])
    assert inv["lines"]["total_count"] > 10
    sub = max(
        c.walk("/v1/subscriptions", {"status": "all"}), key=lambda s: s["items"]["total_count"]
    )
    assert sub["items"]["total_count"] > 1
    sb.mutate(
        [
            {
                "op": "update",
                "resource": "invoices",
                "id": inv["id"],
                "changes": {"metadata": {"k": "v1"}, "description": "patched"},
            },
            {
                "op": "update",
                "resource": "subscriptions",
                "id": sub["id"],
                "changes": {"metadata": {"k": "v2"}},
            },
        ]
    )
    for path, obj, schema, extra in (
        ("/v1/invoices", inv, "invoice", {}),
        ("/v1/subscriptions", sub, "subscription", {"status": "all"}),
    ):
        got = c.ok(f"{path}/{obj['id']}")
        assert got == listed(c, path, obj, **extra)
        assert got["metadata"]["k"] in ("v1", "v2")
        assert {k: v for k, v in got.items() if k not in ("metadata", "description")} == {
            k: v for k, v in obj.items() if k not in ("metadata", "description")
        }
        embedded_ok(c, got)
        assert_valid(schema, got)
    # a patched object keeps its patch when its state changes later
    if inv["status"] in ("draft", "open"):
        sb.mutate([{"op": "pay", "resource": "invoices", "id": inv["id"]}])
        got = listed(c, "/v1/invoices", inv)
        assert got["status"] == "paid" and got["description"] == "patched"
        embedded_ok(c, got)


def test_state_changes_show_in_pages_already_served(sb: Any, c: Client) -> None:
    inv = c.walk("/v1/invoices", {"status": "open"})[-1]
    page_before = c.ok("/v1/invoices", {"created": inv["created"], "limit": 100})["data"]
    res = sb.mutate([{"op": "void", "resource": "invoices", "id": inv["id"]}])
    assert [e["type"] for e in res["events"]] == ["invoice.updated", "invoice.voided"]
    page_after = c.ok("/v1/invoices", {"created": inv["created"], "limit": 100})["data"]
    assert [x["id"] for x in page_after] == [x["id"] for x in page_before]
    for before, after in zip(page_before, page_after, strict=True):
        if before["id"] != inv["id"]:
            assert after == before
            continue
        assert (before["status"], after["status"]) == ("open", "void")
        assert after["status_transitions"]["voided_at"] is not None
        assert after["lines"] == before["lines"]
        assert_valid("invoice", after)
    # new objects and their children are served (and embedded) at once
    res = sb.mutate(
        [
            {"op": "create", "resource": "invoices", "lines": 12},
            {"op": "create", "resource": "subscriptions", "items": 3},
        ]
    )
    new_inv, new_sub = (r["id"] for r in res["results"])
    newest = c.ok("/v1/invoices", {"limit": 2})["data"]
    sub = c.ok(f"/v1/subscriptions/{new_sub}")
    # the subscription's first invoice comes with it, as in Stripe
    assert {x["id"] for x in newest} == {new_inv, sub["latest_invoice"]}
    created = c.ok(f"/v1/invoices/{new_inv}")
    assert created["lines"]["total_count"] == 12
    embedded_ok(c, created)
    first = c.ok(f"/v1/invoices/{sub['latest_invoice']}")
    assert first["subscription"] == new_sub and first["lines"]["total_count"] == 3
    assert sub["items"]["total_count"] == 3
    embedded_ok(c, sub)
