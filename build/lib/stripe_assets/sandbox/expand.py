"""``expand[]`` (or ``expand[N]``) as Stripe has it, for references between served objects.

A path names a property, then (after an expanded object or a nested list) a property of that:
``customer``, ``invoice.subscription``, ``lines.data.subscription_item`` on a retrieve and
``data.customer`` on a list; at most 4 levels. Accepted: every property Stripe marks
expandable on charge, customer, invoice, line_item, subscription, subscription_item, payout
and balance_transaction (``EXPANDABLE``, checked against spec3.json by the tests; one that
the sandbox leaves null stays null), and the embedded lists ``lines.data`` / ``items.data``.
A reference to a held object becomes that object (a deleted customer as ``{"deleted": true,
...}``).

Not supported, answered 400 (Stripe would answer some of them):
- any other path, with Stripe's "This property cannot be expanded (path)." This includes
  paths through nested objects (``lines.data.price.product``), arrays of references
  (``discounts``, ``total_tax_amounts.tax_rate``), includable lists (customer ``sources``,
  ``subscriptions``, ``tax_ids``) and anything in events or the account;
- a set reference to a type the sandbox does not hold (``line_item.invoice_item``,
  ``payout.destination``): "The sandbox cannot expand <path>: it holds no <type> objects."

Expansion parses and re-serialises the response, so such pages are slower than plain ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ApiError

HELD = {
    "balance_transaction": "balance_transactions",
    "charge": "charges",
    "customer": "customers",
    "invoice": "invoices",
    "subscription": "subscriptions",
    "subscription_item": "subscription_items",
}
"""Object type -> the sandbox table holding it."""

EXPANDABLE: dict[str, dict[str, str]] = {
    "charge": {
        "application": "application",
        "application_fee": "application_fee",
        "balance_transaction": "balance_transaction",
        "customer": "customer",
        "failure_balance_transaction": "balance_transaction",
        "invoice": "invoice",
        "on_behalf_of": "account",
        "payment_intent": "payment_intent",
        "review": "review",
        "source_transfer": "transfer",
        "transfer": "transfer",
    },
    "customer": {"default_source": "source", "test_clock": "test_helpers.test_clock"},
    "invoice": {
        "application": "application",
        "charge": "charge",
        "customer": "customer",
        "default_payment_method": "payment_method",
        "default_source": "source",
        "latest_revision": "invoice",
        "on_behalf_of": "account",
        "payment_intent": "payment_intent",
        "quote": "quote",
        "subscription": "subscription",
        "test_clock": "test_helpers.test_clock",
    },
    "line_item": {
        "invoice_item": "invoiceitem",
        "subscription": "subscription",
        "subscription_item": "subscription_item",
    },
    "subscription": {
        "application": "application",
        "customer": "customer",
        "default_payment_method": "payment_method",
        "default_source": "source",
        "latest_invoice": "invoice",
        "on_behalf_of": "account",
        "pending_setup_intent": "setup_intent",
        "schedule": "subscription_schedule",
        "test_clock": "test_helpers.test_clock",
    },
    "subscription_item": {},
    "payout": {
        "balance_transaction": "balance_transaction",
        "destination": "bank_account",
        "failure_balance_transaction": "balance_transaction",
        "original_payout": "payout",
        "reversed_by": "payout",
    },
    "balance_transaction": {"source": "charge"},
    "event": {},
}
"""Per served object type: expandable property -> the type it expands to (for
``balance_transaction.source`` the only kind of source the sandbox has)."""

NESTED_LISTS = {"invoice": {"lines": "line_item"}, "subscription": {"items": "subscription_item"}}
"""Embedded lists a path may go through (``lines.data.<property>``)."""

MAX_DEPTH = 4
LIST = "list:"

Fetch = Callable[[str, str], dict[str, Any]]
"""``fetch(object_type, id)`` -> that object (deleted ones as ``{"deleted": true, ...}``)."""


def expand_params(params: dict[str, str | list[str]]) -> list[str]:
    """Pop ``expand[]`` / ``expand[N]`` from the parameters; the paths in order."""
    out: list[str] = []
    for key in [
        k
        for k in params
        if k == "expand[]" or (k.startswith("expand[") and k.endswith("]") and k[7:-1].isdigit())
    ]:
        value = params.pop(key)
        out.extend(value if isinstance(value, list) else [value])
    return out


def _cannot(path: str, hint: str = "") -> ApiError:
    return ApiError(400, f"This property cannot be expanded ({path}).{hint}", param="expand")


def check(paths: list[str], root: str) -> list[list[str]]:
    """Validate paths against the object graph from ``root`` (an object type, or
    ``list:<type>`` for a list); returns them split into segments."""
    out = []
    for path in paths:
        segs = path.split(".")
        if not path or "" in segs:
            raise _cannot(path)
        if sum(1 for s in segs if s != "data") > MAX_DEPTH:
            raise ApiError(
                400,
                f"You cannot expand more than {MAX_DEPTH} levels of a property ({path}).",
                param="expand",
            )
        typ: str | None = root
        for i, seg in enumerate(segs):
            if typ is None:  # below a reference the sandbox never sets: nothing to expand
                break
            if typ.startswith(LIST):
                if seg != "data":
                    elem = typ[len(LIST) :]
                    hint = (
                        f" You may want to try expanding 'data.{path}' instead."
                        if i == 0 and seg in EXPANDABLE.get(elem, {})
                        else ""
                    )
                    raise _cannot(path, hint)
                typ = typ[len(LIST) :]
                continue
            if seg in NESTED_LISTS.get(typ, {}):
                typ = LIST + NESTED_LISTS[typ][seg]
                continue
            if seg not in EXPANDABLE.get(typ, {}):
                raise _cannot(path)
            target = EXPANDABLE[typ][seg]
            typ = target if target in HELD else None
        out.append(segs)
    return out


def expand(obj: dict[str, Any], paths: list[list[str]], root: str, fetch: Fetch) -> None:
    """Expand ``paths`` (from ``check``) in place."""
    for segs in paths:
        _walk(obj, segs, root, fetch, ".".join(segs))


def _walk(node: Any, segs: list[str], typ: str, fetch: Fetch, path: str) -> None:
    if not segs or not isinstance(node, dict):
        return
    seg, rest = segs[0], segs[1:]
    if typ.startswith(LIST):
        for item in node.get("data") or []:
            _walk(item, rest, typ[len(LIST) :], fetch, path)
        return
    if seg in NESTED_LISTS.get(typ, {}):
        _walk(node.get(seg), rest, LIST + NESTED_LISTS[typ][seg], fetch, path)
        return
    target = EXPANDABLE[typ][seg]
    value = node.get(seg)
    if isinstance(value, str):
        if target not in HELD:
            raise ApiError(
                400,
                f"The sandbox cannot expand {path}: it holds no {target} objects.",
                param="expand",
            )
        value = node[seg] = fetch(target, value)
    if rest and target in HELD:
        _walk(value, rest, target, fetch, path)
