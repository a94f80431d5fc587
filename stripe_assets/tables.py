"""The declarative table list: one entry per warehouse table.

Adding a table is one entry here; its dlt resource, Dagster asset, lineage, checks and docs
follow from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    ),
    StripeTable(
        name="customers",
        path="/v1/customers",
        description="Customers, one row per customer.",
        columns={**_timestamps("created"), **_bigints("balance")},
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
    ),
    StripeTable(
        name="payouts",
        path="/v1/payouts",
        description="Payouts to the bank account, one row per payout.",
        columns={**_timestamps("created", "arrival_date"), **_bigints("amount")},
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
        ),
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
