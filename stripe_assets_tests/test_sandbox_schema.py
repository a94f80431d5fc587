"""Every kind of object the sandbox serves validates against Stripe's OpenAPI schema: every
registry table's list items, retrieves and child lists, and the events of mutations."""

from __future__ import annotations

from typing import Any

import pytest

from stripe_assets.tables import TABLES, TABLES_BY_NAME, StripeTable
from stripe_assets_tests.sandbox_fixtures import (  # noqa: F401  (pytest fixtures)
    Client,
    assert_valid,
    module_sandbox,
    sandbox_client,
)

TOP = [t for t in TABLES if not t.is_child and t.object != "event"]  # (events: after mutations)
CHILDREN = [t for t in TABLES if t.is_child]


@pytest.mark.parametrize("entry", TOP, ids=lambda t: t.name)
def test_list_items_and_retrieves_validate(client: Client, entry: StripeTable) -> None:
    objs = client.walk(entry.path, dict(entry.params))
    assert objs, f"{entry.path} served nothing"
    for obj in objs:
        assert obj["object"] == entry.object
        assert_valid(entry.object, obj)
    for obj in objs[:: max(1, len(objs) // 10)]:
        assert client.ok(f"{entry.path}/{obj['id']}") == obj


@pytest.mark.parametrize("entry", CHILDREN, ids=lambda t: t.name)
def test_child_lists_validate(client: Client, entry: StripeTable) -> None:
    link = entry.child
    assert link is not None
    parent = TABLES_BY_NAME[link.parent]
    parents = [p for p in client.walk(parent.path, dict(parent.params)) if link.applies_to(p)]
    if link.embedded_field:
        parents.sort(key=lambda p: -p[link.embedded_field]["total_count"])
    seen = 0
    for p in parents[:8]:
        path = link.path.replace("{id}", p["id"])
        params = {k: v.replace("{id}", p["id"]) for k, v in link.params.items()}
        children = client.walk(path, params)
        if link.embedded_field:
            embedded = p[link.embedded_field]
            assert len(children) == embedded["total_count"]
            assert children[: len(embedded["data"])] == embedded["data"]
        for child in children:
            assert child["object"] == entry.object
            assert_valid(entry.object, child)
        seen += len(children)
    assert seen, f"no {entry.name} under the first parents"


def test_account_and_events_validate(client: Client, sandbox: Any) -> None:
    assert_valid("account", client.ok("/v1/account"))
    actions: list[dict[str, Any]] = [
        {"op": "create", "resource": t.name} for t in TOP if t.event("created")
    ]
    actions += [{"op": "update", "resource": t.name} for t in TOP if t.event("updated")]
    actions += [
        {"op": "refund", "resource": "charges"},
        {"op": "pay", "resource": "invoices"},
        {"op": "cancel", "resource": "subscriptions"},
        {"op": "delete", "resource": "customers"},
    ]
    sandbox.mutate(actions)
    events = client.walk("/v1/events")
    assert len(events) >= len(actions)
    for ev in events:
        assert_valid("event", ev)
        obj = ev["data"]["object"]
        assert_valid(obj["object"], obj)
        assert client.ok(f"/v1/events/{ev['id']}") == ev
