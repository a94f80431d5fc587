"""Ground truth of the marts mrr_summary, daily_overview and payout_details, computed from a
Stripe API's own objects (the sandbox over HTTP) with the definitions the models' schema docs
give, independently of the warehouse and of dbt: Python integers and fractions, exact.

Each function answers {key: {column: value}} holding every column of the model: amounts in
the minor unit as int, `*_major` twins as Fraction (minor / 10**exponent, exponents from
Stripe's currency list, written out here rather than taken from the project), rates as
Fraction (or None where the docs say null).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import requests

from stripe_assets_tests.mrr_truth import ItemMonth, StripeApi, item_months, movements, next_month

# https://docs.stripe.com/currencies#zero-decimal and #three-decimal
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx",
                "vnd", "vuv", "xaf", "xof", "xpf"}  # fmt: skip
THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}
MOVEMENTS = ("new", "expansion", "contraction", "churned", "reactivation")


def exponent(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def major(minor: int | None, currency: str) -> Fraction | None:
    return None if minor is None else Fraction(minor, 10 ** exponent(currency))


def with_majors(row: dict[str, Any], currency: str, money: list[str]) -> dict[str, Any]:
    return {**row, **{f"{c}_major": major(row[c], currency) for c in money}}


def utc_day(ts: int) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def ratio(numerator: int, denominator: int) -> Fraction | None:
    return Fraction(numerator, denominator) if denominator else None


# --- mrr_summary ---------------------------------------------------------------------------


def mrr_summary(api: StripeApi, as_of: date) -> dict[tuple[date, str], dict[str, Any]]:
    """(month, currency) -> mrr_summary's row, from the per-item truth of mrr_truth."""
    as_of_month = date(as_of.year, as_of.month, 1)
    months = item_months(api, as_of)
    items = movements(months, as_of_month)
    owner: dict[tuple[str, date], ItemMonth] = {(m.item, m.month): m for m in months}
    by_key: dict[tuple[date, str], list[tuple]] = defaultdict(list)
    for (item, month), (currency, mrr, previous, kind) in items.items():
        # a churned row belongs to the subscription and customer of the month before it
        source = owner[(item, previous_month(month) if kind == "churned" else month)]
        by_key[(month, currency)].append(
            (item, mrr, previous, kind, source.subscription, source.customer)
        )

    first: dict[str, date] = {}
    for month, currency in by_key:
        first[currency] = min(first.get(currency, month), month)
    active_customers = {
        key: {r[5] for r in rows if r[1] > 0 and r[5] is not None} for key, rows in by_key.items()
    }
    out = {}
    for currency, month in sorted((c, m) for c, m in first.items()):
        previous_row: dict[str, Any] | None = None
        while month <= as_of_month:
            rows = by_key.get((month, currency), [])
            row: dict[str, Any] = {"month": month, "currency": currency,
                                   "currency_exponent": exponent(currency)}  # fmt: skip
            row["mrr"] = sum(r[1] for r in rows)
            row["previous_mrr"] = previous_row["mrr"] if previous_row else 0
            for kind in MOVEMENTS:
                row[f"{kind}_mrr"] = sum(r[1] - r[2] for r in rows if r[3] == kind)
                row[f"{kind}_items"] = sum(1 for r in rows if r[3] == kind)
            row["unchanged_items"] = sum(1 for r in rows if r[3] == "unchanged")
            row["net_new_mrr"] = sum(row[f"{kind}_mrr"] for kind in MOVEMENTS)
            row["arr"] = 12 * row["mrr"]
            row["active_subscriptions"] = len({r[4] for r in rows if r[1] > 0})
            now = active_customers.get((month, currency), set())
            before = active_customers.get((previous_month(month), currency), set())
            row["active_customers"] = len(now)
            row["previous_active_customers"] = (
                previous_row["active_customers"] if previous_row else 0
            )
            row["churned_customers"] = len(before - now)
            row["customer_churn_rate"] = ratio(
                row["churned_customers"], row["previous_active_customers"]
            )
            row["revenue_churn_rate"] = ratio(
                -(row["churned_mrr"] + row["contraction_mrr"]), row["previous_mrr"]
            )
            money = ["mrr", "previous_mrr", *(f"{k}_mrr" for k in MOVEMENTS), "net_new_mrr", "arr"]
            out[(month, currency)] = previous_row = with_majors(row, currency, money)
            month = next_month(month)
    return out


def previous_month(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


# --- daily_overview ------------------------------------------------------------------------

PAYOUT_CATEGORIES = {"payout", "payout_reversal"}
NAMED = {"charge", "refund", "refund_failure", "dispute", "dispute_reversal"} | PAYOUT_CATEGORIES
DAILY_MONEY = ["charge_amount", "refund_amount", "dispute_amount", "other_amount",
               "activity_amount", "fee_amount", "activity_net", "payout_amount",
               "balance_change", "running_balance", "failed_charge_amount"]  # fmt: skip


def daily_overview(api: StripeApi, as_of: date) -> dict[tuple[date, str], dict[str, Any]]:
    """(day, currency) -> daily_overview's row, from /v1/balance_transactions and the failed
    /v1/charges."""
    txns: dict[tuple[date, str], list[dict[str, Any]]] = defaultdict(list)
    for txn in api.list("/v1/balance_transactions"):
        assert txn["reporting_category"], txn  # Stripe always sets it
        txns[(utc_day(txn["created"]), txn["currency"])].append(txn)
    failed: dict[tuple[date, str], list[int]] = defaultdict(list)
    for charge in api.list("/v1/charges"):
        if charge["status"] == "failed":
            failed[(utc_day(charge["created"]), charge["currency"])].append(charge["amount"])

    bounds: dict[str, list[date]] = {}
    for day, currency in [*txns, *failed]:
        first, last = bounds.get(currency, [day, day])
        bounds[currency] = [min(first, day), max(last, day)]
    out = {}
    for currency, (day, last) in bounds.items():
        running = 0
        while day <= max(last, as_of):
            day_txns = txns.get((day, currency), [])

            def total(field: str, categories, day_txns=day_txns) -> int:
                return sum(t[field] for t in day_txns if categories(t["reporting_category"]))

            def count(category: str, day_txns=day_txns) -> int:
                return sum(1 for t in day_txns if t["reporting_category"] == category)

            def activity(c: str) -> bool:
                return c not in PAYOUT_CATEGORIES

            row: dict[str, Any] = {
                "day": day, "currency": currency,
                "charge_amount": total("amount", lambda c: c == "charge"),
                "charge_count": count("charge"),
                "refund_amount": total("amount", lambda c: c in ("refund", "refund_failure")),
                "refund_count": count("refund"),
                "dispute_amount": total("amount", lambda c: c in ("dispute", "dispute_reversal")),
                "dispute_count": count("dispute"),
                "other_amount": total("amount", lambda c: c not in NAMED),
                "activity_amount": total("amount", activity),
                "fee_amount": total("fee", activity),
                "activity_net": total("net", activity),
                "payout_amount": total("net", lambda c: c in PAYOUT_CATEGORIES),
                "payout_count": count("payout"),
                "balance_change": total("net", lambda c: True),
                "failed_charge_count": len(failed.get((day, currency), [])),
                "failed_charge_amount": sum(failed.get((day, currency), [])),
            }  # fmt: skip
            running += row["balance_change"]
            row["running_balance"] = running
            out[(day, currency)] = with_majors(row, currency, DAILY_MONEY)
            day += timedelta(days=1)
    return out


# --- payout_details ------------------------------------------------------------------------

PAYOUT_MONEY = ["amount", "settled_amount", "settled_fee", "settled_net",
                "own_transaction_amount", "reconciliation_difference"]  # fmt: skip


def settled_by(api: StripeApi, payout: dict[str, Any]) -> list[dict[str, Any]]:
    """The balance transactions Stripe lists for a payout (automatic payouts only: Stripe
    answers the filter with a 400 for a manual one)."""
    try:
        return list(api.list("/v1/balance_transactions", payout=payout["id"]))
    except requests.HTTPError as exc:
        if payout["automatic"] or exc.response.status_code != 400:
            raise
        return []


def payout_details(api: StripeApi) -> dict[str, dict[str, Any]]:
    """payout id -> payout_details' amounts and counts (the columns the listing defines)."""
    out = {}
    for payout in api.list("/v1/payouts"):
        listed = settled_by(api, payout)
        own = [t for t in listed if t["type"] == "payout"]
        activity = [t for t in listed if t["type"] != "payout"]
        same = [t for t in activity if t["currency"] == payout["currency"]]
        settled_net = sum(t["net"] for t in same)
        row = {
            "payout_id": payout["id"], "currency": payout["currency"],
            "amount": payout["amount"],
            "settled_transaction_count": len(listed),
            "settled_activity_count": len(activity),
            "other_currency_count": sum(t["currency"] != payout["currency"] for t in listed),
            "settled_amount": sum(t["amount"] for t in same),
            "settled_fee": sum(t["fee"] for t in same),
            "settled_net": settled_net,
            "own_transaction_count": len(own),
            "own_transaction_amount": sum(t["amount"] for t in own) if own else None,
            "reconciliation_difference": payout["amount"] - settled_net,
            "automatic": payout["automatic"],
        }  # fmt: skip
        out[payout["id"]] = with_majors(row, payout["currency"], PAYOUT_MONEY)
    return out
