"""Cursor walks over real HTTP agree with /_sandbox/counts; ordering, ties and cursors."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from stripe_assets_tests.sandbox_fixtures import (  # noqa: F401  (pytest fixtures)
    APRIL_1,
    DAY,
    Client,
    module_sandbox,
    sandbox_client,
)

TOP = {
    "charges": ("/v1/charges", {}),
    "customers": ("/v1/customers", {}),
    "invoices": ("/v1/invoices", {}),
    "subscriptions": ("/v1/subscriptions", {"status": "all"}),
    "payouts": ("/v1/payouts", {}),
    "balance_transactions": ("/v1/balance_transactions", {}),
}


def _window(gte: int, lt: int) -> dict[str, int]:
    return {"created[gte]": gte, "created[lt]": lt}


def walk_window(client: Client, gte: int, lt: int) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name, (path, extra) in TOP.items():
        objs = client.walk(path, {**extra, **_window(gte, lt)})
        ids = [o["id"] for o in objs]
        assert len(ids) == len(set(ids)), f"duplicates in {name}"
        created = [o["created"] for o in objs]
        assert created == sorted(created, reverse=True), f"{name} not newest first"
        assert all(gte <= c < lt for c in created), f"{name} outside window"
        out[name] = objs
    return out


def child_counts(client: Client, walked: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Children via the embedded list, falling back to the child endpoint when has_more."""
    lines = items = txns = 0
    for inv in walked["invoices"]:
        emb = inv["lines"]
        assert emb["url"] == f"/v1/invoices/{inv['id']}/lines"
        assert emb["has_more"] == (emb["total_count"] > len(emb["data"]))
        if emb["has_more"]:
            rest = client.walk(emb["url"], {"starting_after": emb["data"][-1]["id"]})
            got = emb["data"] + rest
            assert len(got) == emb["total_count"]
        else:
            got = emb["data"]
            assert len({li["id"] for li in got}) == len(got)
        lines += len(got)
    for sub in walked["subscriptions"]:
        emb = sub["items"]
        assert emb["url"] == f"/v1/subscription_items?subscription={sub['id']}"
        if emb["has_more"]:
            got = client.walk("/v1/subscription_items", {"subscription": sub["id"]})
            assert got[: len(emb["data"])] == emb["data"]
        else:
            got = emb["data"]
        assert all(si["subscription"] == sub["id"] for si in got)
        items += len(got)
    for po in walked["payouts"]:
        if po["automatic"]:  # Stripe refuses balance history of manual payouts (400)
            txns += len(client.walk("/v1/balance_transactions", {"payout": po["id"]}))
    return {"invoice_line_items": lines, "subscription_items": items, "payout_transactions": txns}


def windows(sandbox: Any) -> list[tuple[int, int]]:
    start, end = sandbox.config.start_ts, sandbox.config.end_ts
    return [
        (start, end),  # everything
        (start + DAY, start + 2 * DAY),  # one day
        (start + 12_345, start + 3 * DAY + 777),  # odd boundaries
        (end - 5, end + 10 * DAY),  # the very end
        (start - 30 * DAY, start),  # before the data: empty
    ]


def test_walks_equal_counts(sandbox: Any, client: Client) -> None:
    for gte, lt in windows(sandbox):
        counts = sandbox.counts(gte, lt)
        walked = walk_window(client, gte, lt)
        got = {name: len(objs) for name, objs in walked.items()}
        got.update(child_counts(client, walked))
        expected = {k: counts[k] for k in got}
        assert got == expected, (gte, lt)


def test_counts_add_up_over_days(sandbox: Any, client: Client) -> None:
    """Per-day counts sum to the whole range, which matches every object listed without a
    created filter; at least one table has an empty day and invoices/subscriptions have
    children beyond the embedded 10."""
    start, end = sandbox.config.start_ts, sandbox.config.end_ts
    total = sandbox.counts(start, end)
    days = [sandbox.counts(d, d + DAY) for d in range(start, end, DAY)]
    for key in total:
        assert sum(day[key] for day in days) == total[key], key
    unfiltered = {name: len(client.walk(path, extra)) for name, (path, extra) in TOP.items()}
    assert unfiltered == {k: total[k] for k in unfiltered}
    empty = [(k, i) for i, day in enumerate(days) for k in TOP if day[k] == 0]
    assert empty, "expected some empty days for some tables"
    # an empty day lists nothing
    table, i = empty[0]
    path, extra = TOP[table]
    assert client.walk(path, {**extra, **_window(start + i * DAY, start + (i + 1) * DAY)}) == []
    invoices = client.walk("/v1/invoices")
    assert any(inv["lines"]["total_count"] > 100 for inv in invoices)
    assert any(10 < inv["lines"]["total_count"] <= 100 for inv in invoices)
    subs = client.walk("/v1/subscriptions", {"status": "all"})
    assert any(s["items"]["has_more"] for s in subs)
    assert any(s["status"] == "canceled" for s in subs)


def test_subscription_status_filters(client: Client) -> None:
    every = client.walk("/v1/subscriptions", {"status": "all"})
    default = client.walk("/v1/subscriptions")
    canceled = client.walk("/v1/subscriptions", {"status": "canceled"})
    assert canceled and all(s["status"] == "canceled" for s in canceled)
    assert all(s["status"] != "canceled" for s in default)
    assert sorted(s["id"] for s in default + canceled) == sorted(s["id"] for s in every)
    by_status = Counter(s["status"] for s in every)
    for status, n in by_status.items():
        assert len(client.walk("/v1/subscriptions", {"status": status})) == n


@pytest.mark.parametrize("path", ["/v1/charges", "/v1/invoices", "/v1/customers"])
def test_small_pages_and_ties_have_no_gaps(client: Client, path: str) -> None:
    full = client.walk(path)
    same_second = Counter(o["created"] for o in full)
    assert max(same_second.values()) >= 3, "expected many objects created in the same second"
    for limit in (1, 2, 3, 7):
        assert [o["id"] for o in client.walk(path, limit=limit)] == [o["id"] for o in full]


def test_ending_before_walks_back(client: Client) -> None:
    full = client.walk("/v1/charges")
    back: list[dict[str, Any]] = []
    cursor = full[-1]["id"]
    back = [full[-1]]
    while True:
        page = client.ok("/v1/charges", {"limit": 7, "ending_before": cursor})
        back = page["data"] + back
        if not page["has_more"]:
            break
        cursor = page["data"][0]["id"]
    assert [o["id"] for o in back] == [o["id"] for o in full]
    # from the newest there is nothing newer
    page = client.ok("/v1/charges", {"ending_before": full[0]["id"]})
    assert page == {**page, "data": [], "has_more": False}


def test_children_ending_before(client: Client) -> None:
    invoices = client.walk("/v1/invoices")
    inv = max(invoices, key=lambda i: i["lines"]["total_count"])
    lines = client.walk(f"/v1/invoices/{inv['id']}/lines")
    assert len(lines) == inv["lines"]["total_count"]
    assert lines[:10] == inv["lines"]["data"]
    page = client.ok(
        f"/v1/invoices/{inv['id']}/lines", {"ending_before": lines[50]["id"], "limit": 20}
    )
    assert [li["id"] for li in page["data"]] == [li["id"] for li in lines[30:50]]
    assert page["has_more"] is True


def test_created_filters(client: Client) -> None:
    full = client.walk("/v1/charges")
    pivot = Counter(o["created"] for o in full).most_common(1)[0][0]
    cases = {
        "created": lambda c: c == pivot,
        "created[gt]": lambda c: c > pivot,
        "created[gte]": lambda c: c >= pivot,
        "created[lt]": lambda c: c < pivot,
        "created[lte]": lambda c: c <= pivot,
    }
    for param, keep in cases.items():
        got = client.walk("/v1/charges", {param: pivot})
        assert [o["id"] for o in got] == [o["id"] for o in full if keep(o["created"])], param


def test_cursor_outside_window_still_positions(client: Client) -> None:
    """A cursor keeps its place even when the object is outside the created window."""
    full = client.walk("/v1/customers")
    mid = full[len(full) // 2]
    page = client.ok(
        "/v1/customers",
        {"starting_after": mid["id"], "limit": 100, "created[lt]": APRIL_1 + 400 * DAY},
    )
    assert page["data"][0]["id"] == full[len(full) // 2 + 1]["id"]
