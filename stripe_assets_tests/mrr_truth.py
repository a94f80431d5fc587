"""MRR ground truth computed from a Stripe API's own objects (the sandbox over HTTP), with the
definitions documented in the marts (models/marts/docs.md, `mrr_definition`), independently of
the warehouse and of dbt: plain requests, Python integers and fractions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any

import requests

COUNTED_INVOICES = ("open", "paid", "uncollectible")
PAYING_SUBSCRIPTIONS = ("active", "past_due")
MONTHS_PER_INTERVAL = {"month": Fraction(1), "year": Fraction(1, 12),
                       "week": Fraction(52, 12), "day": Fraction(365, 12)}  # fmt: skip


class StripeApi:
    """Paged GETs against a Stripe-compatible base URL."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url, self.session = base_url, requests.Session()
        self.session.auth = (api_key, "")

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.session.get(self.base_url + path, params=params, timeout=60)
        response.raise_for_status()
        return response.json()

    def list(self, path: str, after: str | None = None, **params: Any) -> Iterator[dict[str, Any]]:
        while True:
            cursor = {"starting_after": after} if after else {}
            page = self.get(path, limit=100, **params, **cursor)
            yield from page["data"]
            if not page["has_more"] or not page["data"]:
                return
            after = page["data"][-1]["id"]

    def embedded(self, parent: dict[str, Any], field: str, path: str, **params: Any):
        """An embedded list, followed to its end when Stripe says it has more."""
        listed = parent[field]
        yield from listed["data"]
        if listed["has_more"]:
            yield from self.list(path, after=listed["data"][-1]["id"], **params)


def round_half_away(value: Fraction) -> int:
    """Round to a whole number, halves away from zero (SQL's round on decimals)."""
    sign = 1 if value >= 0 else -1
    whole, rest = divmod(abs(value), 1)
    return sign * int(whole + (1 if rest >= Fraction(1, 2) else 0))


def monthly(amount: Fraction | int, recurring: dict[str, Any]) -> int:
    factor = MONTHS_PER_INTERVAL[recurring["interval"]] / (recurring.get("interval_count") or 1)
    return round_half_away(Fraction(amount) * factor)


def month_of(ts: int) -> date:
    day = datetime.fromtimestamp(ts, UTC)
    return date(day.year, day.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_end_ts(month: date) -> int:
    end = next_month(month)
    return int(datetime(end.year, end.month, 1, tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class ItemMonth:
    item: str
    month: date
    currency: str
    mrr: int
    subscription: str | None = None
    customer: str | None = None


def recurring_lines(api: StripeApi) -> list[dict[str, Any]]:
    """Lines that carry MRR history, each with its invoice's created/id and its MRR."""
    lines = []
    for invoice in api.list("/v1/invoices"):
        if invoice["status"] not in COUNTED_INVOICES:
            continue
        path = f"/v1/invoices/{invoice['id']}/lines"
        for line in api.embedded(invoice, "lines", path):
            recurring = (line.get("price") or {}).get("recurring")
            if not line.get("subscription_item") or line.get("proration") or not recurring:
                continue
            if recurring["interval"] not in MONTHS_PER_INTERVAL:
                continue
            gross = line.get("amount_excluding_tax")
            gross = line["amount"] if gross is None else gross
            net = gross - sum(d["amount"] for d in line.get("discount_amounts") or [])
            lines.append({
                **line, "invoice_created": invoice["created"], "invoice_id": invoice["id"],
                "invoice_customer": invoice.get("customer"),
                "invoice_subscription": invoice.get("subscription"),
                "mrr": monthly(net, recurring),
            })  # fmt: skip
    return lines


def _latest(lines: list[dict[str, Any]]) -> dict[str, Any]:
    return max(lines, key=lambda x: (x["period"]["start"], x["invoice_created"],
                                     x["invoice_id"], x["id"]))  # fmt: skip


def history(lines: list[dict[str, Any]], as_of_month: date) -> list[ItemMonth]:
    """Each item's MRR in each month before as_of's month: its covering line at month end."""
    by_item: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_item.setdefault(line["subscription_item"], []).append(line)
    rows = []
    for item, item_lines in by_item.items():
        month = min(month_of(x["period"]["start"]) for x in item_lines)
        while month < as_of_month:
            end = month_end_ts(month)
            covering = [x for x in item_lines if x["period"]["start"] < end <= x["period"]["end"]]
            if covering:
                line = _latest(covering)
                subscription = line.get("subscription") or line["invoice_subscription"]
                rows.append(ItemMonth(item, month, line["currency"], line["mrr"],
                                      subscription, line["invoice_customer"]))  # fmt: skip
            month = next_month(month)
    return rows


def current(api: StripeApi, lines: list[dict[str, Any]], as_of: date) -> list[ItemMonth]:
    """Each item's MRR in as_of's month, from today's subscriptions and items."""
    as_of_month = date(as_of.year, as_of.month, 1)
    as_of_end = int(datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC).timestamp()) + 86400
    rows = []
    for sub in api.list("/v1/subscriptions", status="all"):
        if sub["status"] not in PAYING_SUBSCRIPTIONS:
            continue
        items = [
            i for i in api.embedded(sub, "items", "/v1/subscription_items", subscription=sub["id"])
            if (i["price"].get("recurring") or {}).get("interval") in MONTHS_PER_INTERVAL
        ]  # fmt: skip
        discount = sub.get("discount")
        lasting = discount and (discount.get("end") is None or discount["end"] > as_of_end)
        coupon = discount["coupon"] if lasting else {}
        percent = Fraction(str(coupon.get("percent_off") or 0))
        amount_off = coupon.get("amount_off") or 0

        def period_amount(item: dict[str, Any]) -> int | None:
            licensed = (item["price"]["recurring"].get("usage_type") or "licensed") == "licensed"
            unit, quantity = item["price"].get("unit_amount"), item.get("quantity")
            if not licensed or unit is None or quantity is None:
                return None
            return unit * quantity

        total = sum(period_amount(i) or 0 for i in items)
        for item in items:
            amount = period_amount(item)
            if amount is None:
                own = [x for x in lines if x["subscription_item"] == item["id"]]
                mrr = _latest(own)["mrr"] if own else 0
            else:
                share = Fraction(amount_off * amount, total) if total else Fraction(0)
                after = max(Fraction(0), Fraction(amount) * (100 - percent) / 100 - share)
                mrr = monthly(after, item["price"]["recurring"])
            currency = item["price"]["currency"]
            rows.append(
                ItemMonth(item["id"], as_of_month, currency, mrr, sub["id"], sub["customer"])
            )
    return rows


def movements(item_months: list[ItemMonth], as_of_month: date) -> dict[tuple[str, date], tuple]:
    """(item, month) -> (currency, mrr, previous_mrr, movement) as mrr_by_subscription_item
    defines them: months with MRR > 0, plus a churned row after each stretch of them."""
    active: dict[str, dict[date, ItemMonth]] = {}
    for row in item_months:
        if row.mrr > 0:
            active.setdefault(row.item, {})[row.month] = row
    out = {}
    for item, months in active.items():
        seen = False
        for month in sorted(months):
            row, before = months[month], None
            for earlier in months:
                if next_month(earlier) == month:
                    before = months[earlier]
            previous = before.mrr if before else 0
            if before is None:
                kind = "reactivation" if seen else "new"
            elif row.mrr > previous:
                kind = "expansion"
            elif row.mrr < previous:
                kind = "contraction"
            else:
                kind = "unchanged"
            out[(item, month)] = (row.currency, row.mrr, previous, kind)
            seen = True
            after = next_month(month)
            if after not in months and after <= as_of_month:
                out[(item, after)] = (row.currency, 0, row.mrr, "churned")
    return out


def item_months(api: StripeApi, as_of: date) -> list[ItemMonth]:
    """Every item's MRR in every month up to as_of's (history, then today's items)."""
    lines = recurring_lines(api)
    return history(lines, date(as_of.year, as_of.month, 1)) + current(api, lines, as_of)


def mrr_by_item(
    api: StripeApi, as_of: date, months: list[ItemMonth] | None = None
) -> dict[tuple[str, date], tuple]:
    """The whole of mrr_by_subscription_item's (item, month) -> (currency, mrr, previous,
    movement), from the API (or from `months`, item_months' answer)."""
    months = item_months(api, as_of) if months is None else months
    return movements(months, date(as_of.year, as_of.month, 1))
