"""The declarative table list: one entry per warehouse table.

Adding a table is one entry here; its dlt resource, Dagster asset, lineage, checks and docs
follow from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # page workers import this module: no dlt at run time (1 s to import)
    from dlt.common.schema.typing import TTableSchemaColumns


def _timestamps(*names: str) -> TTableSchemaColumns:
    return {name: {"data_type": "timestamp", "timezone": True} for name in names}


def _bigints(*names: str) -> TTableSchemaColumns:
    return {name: {"data_type": "bigint"} for name in names}


@dataclass(frozen=True)
class ChildLink:
    """How a child table hangs off its parent.

    `embedded_field` names the parent's embedded list (first page of children, as Stripe
    returns it); `path` and `params` page the rest (or all, when nothing is embedded), with
    `{id}` replaced by the parent's id. `parent_column` is the column carrying the parent id.
    """

    parent: str
    parent_column: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    embedded_field: str | None = None
    parent_filter: tuple[str, object] | None = None
    """(field, value): only parents with this value have children to fetch (no request for
    the others). Stripe filters balance history only for automatic payouts."""

    def applies_to(self, parent: dict[str, object]) -> bool:
        if self.parent_filter is None:
            return True
        name, value = self.parent_filter
        return parent.get(name, value) == value


@dataclass(frozen=True)
class StripeTable:
    """One Stripe list endpoint (or child list) loaded into one warehouse table."""

    name: str
    path: str
    description: str
    primary_key: tuple[str, ...] = ("id",)
    params: dict[str, str] = field(default_factory=dict)
    columns: TTableSchemaColumns = field(default_factory=dict)
    child: ChildLink | None = None
    column_descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def is_child(self) -> bool:
        return self.child is not None


TABLES: tuple[StripeTable, ...] = (
    StripeTable(
        name="charges",
        path="/v1/charges",
        description="Charges (payments), one row per charge.",
        columns={
            **_timestamps("created"),
            **_bigints("amount", "amount_captured", "amount_refunded"),
        },
        column_descriptions={
            "id": "Charge id (ch_...).",
            "created": "When the charge was created (UTC); its daily partition.",
            "amount": "Amount intended to be collected, in the currency's minor unit.",
            "amount_captured": "Amount captured, in the minor unit.",
            "amount_refunded": "Amount refunded, in the minor unit.",
            "currency": "Three-letter ISO currency code, lowercase.",
            "customer": "Customer id (cus_...), if any.",
            "invoice": "Invoice id (in_...) this charge pays, if any.",
            "status": "succeeded, pending or failed.",
            "refunded": "Whether the charge was fully refunded.",
        },
    ),
    StripeTable(
        name="customers",
        path="/v1/customers",
        description="Customers, one row per customer.",
        columns={**_timestamps("created"), **_bigints("balance")},
        column_descriptions={
            "id": "Customer id (cus_...).",
            "created": "When the customer was created (UTC); its daily partition.",
            "email": "Customer's email address.",
            "name": "Customer's full name or business name.",
            "balance": "Credit balance applied to future invoices, in the minor unit.",
            "metadata": "Key-value pairs set by the account (JSON).",
        },
    ),
    StripeTable(
        name="invoices",
        path="/v1/invoices",
        description="Invoices, one row per invoice; lines live in invoice_line_items.",
        columns={
            **_timestamps(
                "created",
                "period_start",
                "period_end",
                "due_date",
                "next_payment_attempt",
                "webhooks_delivered_at",
                "effective_at",
            ),
            **_bigints(
                "amount_due",
                "amount_paid",
                "amount_remaining",
                "subtotal",
                "total",
                "tax",
                "starting_balance",
                "ending_balance",
                "attempt_count",
            ),
        },
        column_descriptions={
            "id": "Invoice id (in_...).",
            "created": "When the invoice was created (UTC); its daily partition.",
            "customer": "Customer id (cus_...).",
            "subscription": "Subscription id (sub_...), if the invoice comes from one.",
            "status": "draft, open, paid, uncollectible or void.",
            "amount_due": "Final amount due, in the minor unit.",
            "amount_paid": "Amount paid, in the minor unit.",
            "total": "Total after discounts and taxes, in the minor unit.",
            "currency": "Three-letter ISO currency code, lowercase.",
            "period_start": "Start of the usage period (UTC).",
            "period_end": "End of the usage period (UTC).",
        },
    ),
    StripeTable(
        name="invoice_line_items",
        path="/v1/invoices/{id}/lines",
        description="Invoice line items, one row per (invoice, line id).",
        primary_key=("invoice", "id"),
        columns={**_bigints("amount", "quantity")},
        child=ChildLink(
            parent="invoices",
            parent_column="invoice",
            path="/v1/invoices/{id}/lines",
            embedded_field="lines",
        ),
        column_descriptions={
            "invoice": "Parent invoice id (in_...); with id, the primary key.",
            "id": "Line item id (il_...), unique within its invoice.",
            "amount": "Line amount, in the minor unit.",
            "quantity": "Quantity billed.",
            "price": "Price object (JSON).",
            "period": "Billing period of the line (JSON with start and end).",
        },
    ),
    StripeTable(
        name="subscriptions",
        path="/v1/subscriptions",
        description="Subscriptions in every status (canceled included); items live in "
        "subscription_items.",
        params={"status": "all"},
        columns=_timestamps(
            "created",
            "current_period_start",
            "current_period_end",
            "start_date",
            "billing_cycle_anchor",
            "cancel_at",
            "canceled_at",
            "ended_at",
            "trial_start",
            "trial_end",
        ),
        column_descriptions={
            "id": "Subscription id (sub_...).",
            "created": "When the subscription was created (UTC); its daily partition.",
            "customer": "Customer id (cus_...).",
            "status": "trialing, active, past_due, canceled, unpaid, incomplete, ...",
            "current_period_start": "Start of the current billing period (UTC).",
            "current_period_end": "End of the current billing period (UTC).",
            "canceled_at": "When it was canceled (UTC), if it was.",
        },
    ),
    StripeTable(
        name="subscription_items",
        path="/v1/subscription_items",
        description="Subscription items, one row per item, linked by subscription.",
        columns={**_timestamps("created"), **_bigints("quantity")},
        child=ChildLink(
            parent="subscriptions",
            parent_column="subscription",
            path="/v1/subscription_items",
            params={"subscription": "{id}"},
            embedded_field="items",
        ),
        column_descriptions={
            "id": "Subscription item id (si_...).",
            "subscription": "Parent subscription id (sub_...).",
            "created": "When the item was created (UTC).",
            "quantity": "Quantity subscribed.",
            "price": "Price object (JSON).",
        },
    ),
    StripeTable(
        name="payouts",
        path="/v1/payouts",
        description="Payouts to the bank account, one row per payout.",
        columns={**_timestamps("created", "arrival_date"), **_bigints("amount")},
        column_descriptions={
            "id": "Payout id (po_...).",
            "created": "When the payout was created (UTC); its daily partition.",
            "amount": "Amount paid out, in the minor unit.",
            "arrival_date": "Expected arrival in the bank (UTC).",
            "status": "paid, pending, in_transit, canceled or failed.",
            "currency": "Three-letter ISO currency code, lowercase.",
        },
    ),
    StripeTable(
        name="payout_transactions",
        path="/v1/balance_transactions",
        description="Balance transactions settled by each payout, one row per "
        "(payout_id, transaction id).",
        primary_key=("payout_id", "id"),
        columns={**_timestamps("created", "available_on"), **_bigints("amount", "fee", "net")},
        child=ChildLink(
            parent="payouts",
            parent_column="payout_id",
            path="/v1/balance_transactions",
            params={"payout": "{id}"},
            parent_filter=("automatic", True),
        ),
        column_descriptions={
            "payout_id": "Payout id (po_...) that settled the transaction; with id, the key.",
            "id": "Balance transaction id (txn_...).",
            "created": "When the transaction was created (UTC).",
            "available_on": "When the funds became available (UTC).",
            "amount": "Gross amount, in the minor unit.",
            "fee": "Stripe fees, in the minor unit.",
            "net": "amount - fee, in the minor unit.",
            "type": "charge, refund, adjustment, payout, ...",
        },
    ),
)

TABLES_BY_NAME: dict[str, StripeTable] = {table.name: table for table in TABLES}


def children_of(parent: str) -> list[StripeTable]:
    return [t for t in TABLES if t.child is not None and t.child.parent == parent]


def embedded_fields_of(parent: str) -> tuple[str, ...]:
    """Fields to drop from a parent row because a child table holds them."""
    return tuple(
        t.child.embedded_field for t in children_of(parent) if t.child and t.child.embedded_field
    )
