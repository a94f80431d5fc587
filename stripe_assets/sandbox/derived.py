"""Fields Stripe derives from an object's state, computed when a row renders (so a mutation
that changes the state changes them too): a charge's `paid`/`captured`/`refunded`, an
invoice's amounts and status transitions, and so on. Per object type, a field's JSON path
-> a function of the table returning a batch renderer; types not listed have none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from .store import Table

DAY = 86_400
Slot = Callable[[Sequence[int]], list[bytes]]


def _rows(cols: list[list[Any]], rows: Sequence[int]) -> list[tuple[Any, ...]]:
    return [tuple(col[r] for col in cols) for r in rows]


def _json(fn: Callable[..., Any], *names: str) -> Callable[[Table], Slot]:
    """A derived field: ``fn(*values of names)`` per row, as JSON."""

    def make(table: Table) -> Slot:
        dumps, cols = orjson.dumps, [table.cols[n] for n in names]

        def slot(rows: Sequence[int]) -> list[bytes]:
            return [dumps(fn(*values)) for values in _rows(cols, rows)]

        return slot

    return make


def _with_created(fn: Callable[..., Any], *names: str) -> Callable[[Table], Slot]:
    """Like ``_json`` with the row's created time as the first argument."""

    def make(table: Table) -> Slot:
        dumps, created, cols = orjson.dumps, table.created, [table.cols[n] for n in names]

        def slot(rows: Sequence[int]) -> list[bytes]:
            values = _rows(cols, rows)
            return [dumps(fn(created[r], *v)) for r, v in zip(rows, values, strict=True)]

        return slot

    return make


def _invoice_amounts() -> dict[str, Callable[[Table], Slot]]:
    def due(total: int, status: str) -> int:
        return total

    def paid(total: int, status: str) -> int:
        return total if status == "paid" else 0

    def remaining(total: int, status: str) -> int:
        return 0 if status in ("paid", "void") else total

    def transitions(created: int, status: str) -> dict[str, int | None]:
        return {
            "finalized_at": created if status != "draft" else None,
            "marked_uncollectible_at": created + 3 * DAY if status == "uncollectible" else None,
            "paid_at": created if status == "paid" else None,
            "voided_at": created + DAY if status == "void" else None,
        }

    def url(kind: str) -> Callable[..., str | None]:
        def make(created: int, status: str, number: str | None) -> str | None:
            if status == "draft" or number is None:
                return None
            return f"https://invoice.stripe.com/{kind}/{number}"

        return make

    def attempted(status: str, collection: str) -> bool:
        return status != "draft" and collection != "send_invoice"

    def discounts(discount: int, status: str) -> list[dict[str, Any]]:
        return [{"amount": discount, "discount": "di_sandbox"}] if discount else []

    return {
        "amount_due": _json(due, "total", "status"),
        "amount_paid": _json(paid, "total", "status"),
        "amount_remaining": _json(remaining, "total", "status"),
        "total": _json(due, "total", "status"),
        "total_excluding_tax": _json(due, "total", "status"),
        "subtotal_excluding_tax": _json(lambda s: s, "subtotal"),
        "total_discount_amounts": _json(discounts, "total_discount", "status"),
        "paid": _json(lambda s: s == "paid", "status"),
        "attempted": _json(attempted, "status", "collection_method"),
        "attempt_count": _json(lambda s, c: int(attempted(s, c)), "status", "collection_method"),
        "auto_advance": _json(lambda s: s in ("draft", "open"), "status"),
        "ending_balance": _json(lambda s: None if s == "draft" else 0, "status"),
        "starting_balance": _json(lambda s: 0, "status"),
        "effective_at": _with_created(lambda c, s: None if s == "draft" else c, "status"),
        "webhooks_delivered_at": _with_created(lambda c, s: c, "status"),
        "next_payment_attempt": _json(lambda s: None, "status"),
        "status_transitions": _with_created(transitions, "status"),
        "hosted_invoice_url": _with_created(url("i"), "status", "number"),
        "invoice_pdf": _with_created(url("pdf"), "status", "number"),
    }  # fmt: skip


def _charge() -> dict[str, Callable[[Table], Slot]]:
    def captured(amount: int, status: str) -> int:
        return amount if status == "succeeded" else 0

    def refunded(amount: int, refunded_amount: int) -> bool:
        return amount > 0 and refunded_amount >= amount

    def failure(status: str, which: str) -> str | None:
        if status != "failed":
            return None
        return "card_declined" if which == "code" else "Your card was declined."

    def outcome(status: str) -> dict[str, Any]:
        ok = status != "failed"
        return {
            "network_status": "approved_by_network" if ok else "declined_by_network",
            "reason": None if ok else "generic_decline",
            "risk_level": "normal",
            "risk_score": 32,
            "seller_message": "Payment complete."
            if ok
            else "The bank did not return any further details with this decline.",
            "type": "authorized" if ok else "issuer_declined",
        }

    return {
        "amount_captured": _json(captured, "amount", "status"),
        "captured": _json(lambda s: s == "succeeded", "status"),
        "paid": _json(lambda s: s == "succeeded", "status"),
        "refunded": _json(refunded, "amount", "amount_refunded"),
        "failure_code": _json(lambda s: failure(s, "code"), "status"),
        "failure_message": _json(lambda s: failure(s, "message"), "status"),
        "outcome": _json(outcome, "status"),
        "calculated_statement_descriptor": _json(lambda s: "SANDBOX", "status"),
    }


def _subscription() -> dict[str, Callable[[Table], Slot]]:
    def details(status: str) -> dict[str, Any]:
        reason = "cancellation_requested" if status == "canceled" else None
        return {"comment": None, "feedback": None, "reason": reason}

    return {"cancellation_details": _json(details, "status")}


def _line_item() -> dict[str, Callable[[Table], Slot]]:
    def unit(amount: int, quantity: int) -> str:
        return str(amount // quantity if quantity else amount)

    return {
        "amount_excluding_tax": _json(lambda a: a, "amount"),
        "unit_amount_excluding_tax": _json(unit, "amount", "quantity"),
    }


def _payment_intent() -> dict[str, Callable[[Table], Slot]]:
    return {
        "amount_received": _json(lambda a, s: a if s == "succeeded" else 0, "amount", "status"),
        "amount_capturable": _json(lambda s: 0, "status"),
        "canceled_at": _json(lambda s: None, "status"),
        "cancellation_reason": _json(lambda s: None, "status"),
    }


DERIVED: dict[str, Callable[[], dict[str, Callable[[Table], Slot]]]] = {
    "charge": _charge,
    "invoice": _invoice_amounts,
    "subscription": _subscription,
    "line_item": _line_item,
    "payment_intent": _payment_intent,
}


def fields_for(table: Table) -> dict[str, Slot]:
    """The derived fields of a table whose columns they read are present."""
    make = DERIVED.get(table.obj)
    if make is None:
        return {}
    out = {}
    for path, factory in make().items():
        if path in table.fields:
            continue
        try:
            out[path] = factory(table)
        except KeyError:
            continue
    return out
