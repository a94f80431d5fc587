"""A partition costs the minimum requests per path, computed from the sandbox's own objects
read with the test client (not from what the loader wrote): pages of 100 per list, a child
request only where an embedded list says `has_more` (its `total_count`), one walk per
automatic payout, one page of deletion events."""

from __future__ import annotations

import math
import re
from collections import Counter

from stripe_assets.tables import TABLES, StripeTable
from stripe_assets_tests.conftest import DAILY, day_window, run_partitions
from stripe_assets_tests.sandbox_fixtures import Client

EMBEDDED = 10


def pages(n: int) -> int:
    return max(1, math.ceil(n / 100))


def template(path: str) -> str:
    """The sandbox's stats key of a registry path (`/v1/invoices/{id}/lines`)."""
    return re.sub(r"\{\w+\}", "{id}", path)


def _parents(c: Client, entry: StripeTable, gte: int, lt: int) -> tuple[list[dict], int]:
    """The objects of a top-level table created in the window, and the pages to read them."""
    if entry.created_filter:
        window = {"created[gte]": gte, "created[lt]": lt}
        found = c.walk(entry.path, {**dict(entry.params), **window})
        return found, pages(len(found))
    everything = c.walk(entry.path, dict(entry.params))  # newest first
    newer = sum(1 for o in everything if o[entry.created_field] >= gte)
    inside = [o for o in everything if gte <= o[entry.created_field] < lt]
    return inside, pages(newer + (newer < len(everything)))


def minimum_requests(c: Client, gte: int, lt: int) -> Counter[str]:
    need: Counter[str] = Counter({"/v1/events": 1})  # deletion events, one page
    parents: dict[str, list[dict]] = {}
    for entry in DAILY:
        if entry.child is None:
            parents[entry.name], n = _parents(c, entry, gte, lt)
            need[template(entry.path)] += n
    for entry in DAILY:
        link = entry.child
        if link is None:
            continue
        for parent in parents[link.parent]:
            if not link.applies_to(parent):
                continue
            if link.embedded_field:
                total = parent[link.embedded_field]["total_count"]
                if total > EMBEDDED:
                    need[template(link.path)] += math.ceil((total - EMBEDDED) / 100)
            else:
                params = {k: v.replace("{id}", parent["id"]) for k, v in link.params.items()}
                path = link.path.replace("{id}", parent["id"])
                need[template(link.path)] += pages(len(c.walk(path, params)))
    return need


def test_a_partition_costs_the_minimum_requests_per_path(sandbox, busy_day, stripe_env, instance):
    gte, lt = day_window(busy_day)
    c = Client(sandbox.base_url, sandbox.api_key)
    expected = minimum_requests(c, gte, lt)
    c.close()
    sandbox.reset_stats()
    assert run_partitions(instance, busy_day).success
    made = {path: s["total"] for path, s in sandbox.stats()["by_path"].items()}
    assert made == dict(expected)
    assert sandbox.minimum_requests(gte, lt, [t.name for t in DAILY]) == dict(
        expected
    )  # what the benchmarks divide by
    # the day exercises each kind of child request
    assert expected["/v1/balance_transactions"] > pages(
        sandbox.counts(gte, lt)["balance_transactions"]
    ), "an automatic payout's walk"
    assert any(
        expected[template(t.child.path)] for t in TABLES if t.child and t.child.embedded_field
    ), "an embedded list with more than 10 children"
