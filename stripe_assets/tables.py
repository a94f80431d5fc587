"""The registry: one entry per Stripe resource, and everything else derives from it.

An entry says what Stripe serves (object type, list path, fixed parameters, whether the list
takes a `created` filter, the parent link of a child list, the event types that change or
delete its objects) and what the warehouse keeps (primary key, column hints and docs). The dlt
resources, the Dagster assets and their lineage, the events sensor's object -> table map,
deletion handling, the asset checks, the run metadata, the README's table list and the local
sandbox (which serves every entry from Stripe's own fixtures and spec) are all derived from
these entries. Adding an ordinary table is one entry; `sandbox` declares its volume in the
sandbox and `Ref`s to the objects it points at.

This module imports nothing heavy: page worker processes import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # page workers import this module: no dlt at run time (1 s to import)
    from dlt.common.schema.typing import TTableSchemaColumns

DAY = 86_400
EVENT_RETENTION_SECONDS = 30 * DAY
"""Stripe lists events of the last 30 days only."""


def timestamps(*names: str) -> TTableSchemaColumns:
    """Unix-second fields stored as timestamps (UTC)."""
    return {name: {"data_type": "timestamp", "timezone": True} for name in names}


def bigints(*names: str) -> TTableSchemaColumns:
    """Money (minor units) and counts stored as 64-bit integers."""
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
    params: Mapping[str, str] = field(default_factory=dict)
    embedded_field: str | None = None
    parent_filter: tuple[str, object] | None = None
    """(field, value): only parents with this value have children to fetch (no request for
    the others). Stripe filters balance history only for automatic payouts."""

    def applies_to(self, parent: Mapping[str, object]) -> bool:
        if self.parent_filter is None:
            return True
        name, value = self.parent_filter
        return parent.get(name, value) == value


@dataclass(frozen=True)
class Ref:
    """A reference from this table's objects to another table's, for the sandbox: `field`
    holds the id of an object of `table` created before this one.

    `share` of the objects have one (the rest null); `copy` takes fields over from the
    referenced object (its currency, customer, ...); `within` keeps this object's `amount`
    within the referenced object's field of that name, counting every object that refers to
    it, and `total` is the referenced object's field that adds those amounts up
    (`amount_refunded`); `back` is the referenced object's field that points back here (one to
    one: a charge's `payment_intent`); `inline` embeds the whole object instead of its id."""

    field: str
    table: str
    share: float = 1.0
    copy: tuple[str, ...] = ()
    within: str | None = None
    total: str | None = None
    back: str | None = None
    inline: bool = False


@dataclass(frozen=True)
class Volume:
    """How many objects the sandbox holds: `daily` objects a day at scale 1, or (`per`) one
    object for `share` of the objects referenced by the `Ref` on field `per`, created `after`
    seconds (a range) after that object. A child table has `children` per parent (a range)."""

    daily: float = 1.5
    per: str | None = None
    share: float = 1.0
    after: tuple[int, int] = (0, 0)
    children: tuple[int, int] = (1, 4)
    before: int = 0
    """Objects created before the data window (a catalog): this many, in the year before."""
    share_amount: bool = True
    """Children's amounts add up to their parent's (credit note lines); else each child
    takes a part of it (a partial transfer reversal)."""


@dataclass(frozen=True)
class StripeTable:
    """One Stripe list endpoint (or child list) loaded into one warehouse table."""

    name: str
    object: str
    """Stripe's `object` value of the rows (`charge`, `checkout.session`)."""
    path: str
    description: str
    primary_key: tuple[str, ...] = ("id",)
    params: Mapping[str, str] = field(default_factory=dict)
    created_filter: bool = True
    """The list takes `created[gte]`/`created[lt]`. Without it a partition walks the list
    newest first, keeps the rows created in its window and stops at the first older page."""
    created_field: str = "created"
    """The field Stripe's `created` filter reads (invoice items call it `date`)."""
    columns: TTableSchemaColumns = field(default_factory=dict)
    column_descriptions: Mapping[str, str] = field(default_factory=dict)
    child: ChildLink | None = None
    events: tuple[str, ...] = ()
    """Event types whose `data.object` is one of this table's objects (Stripe sends none
    for balance transactions); changed objects are re-loaded by the events sensor."""
    deleted_event: str | None = None
    """The event after which Stripe's list no longer returns the object (a hard delete)."""
    sandbox: Volume = field(default_factory=Volume)
    refs: tuple[Ref, ...] = ()
    snapshot: bool = False
    """A catalog table (products, prices, coupons, ...): small, changed in place and referenced
    by everything, so each run reads the whole list and replaces the table (an object Stripe
    no longer lists leaves it); one unpartitioned asset instead of daily partitions."""
    permission: str = ""
    """What a restricted key needs to read it, as Stripe's Dashboard names it."""
    connect: bool = False
    """Lists connected accounts' objects: only a Connect platform may read it."""
    kept_seconds: int | None = None
    """Stripe lists only objects younger than this: an older partition loads what is left,
    and the run's log says so."""

    @property
    def is_child(self) -> bool:
        return self.child is not None

    def event(self, suffix: str) -> str | None:
        """This table's event type ending in `.suffix` (`created`, `updated`), if any."""
        return next((e for e in self.events if e.endswith(f".{suffix}")), None)


def _described(**columns: str) -> dict[str, str]:
    return dict(columns)


_ID_CREATED = {"created": "When the object was created (UTC); its daily partition."}

TABLES: tuple[StripeTable, ...] = (
    StripeTable(
        name="customers",
        object="customer",
        path="/v1/customers",
        permission="Customers",
        description="Customers, one row per customer.",
        columns={**timestamps("created"), **bigints("balance")},
        column_descriptions=_described(
            id="Customer id (cus_...).",
            **_ID_CREATED,
            email="Customer's email address.",
            name="Customer's full name or business name.",
            currency="Currency the customer is billed in (lowercase ISO code).",
            balance="Credit balance applied to future invoices, in the minor unit.",
            metadata="Key-value pairs set by the account (JSON).",
        ),
        events=("customer.created", "customer.updated", "customer.deleted"),
        deleted_event="customer.deleted",
        sandbox=Volume(daily=18),
    ),
    StripeTable(
        name="charges",
        object="charge",
        path="/v1/charges",
        permission="Charges",
        description="Charges (payments), one row per charge.",
        columns={
            **timestamps("created"),
            **bigints("amount", "amount_captured", "amount_refunded"),
        },
        column_descriptions=_described(
            id="Charge id (ch_...).",
            **_ID_CREATED,
            amount="Amount intended to be collected, in the currency's minor unit.",
            amount_captured="Amount captured, in the minor unit.",
            amount_refunded="Amount refunded, in the minor unit.",
            currency="Three-letter ISO currency code, lowercase.",
            customer="Customer id (cus_...), if any.",
            invoice="Invoice id (in_...) this charge pays, if any.",
            payment_intent="PaymentIntent id (pi_...) that created the charge.",
            status="succeeded, pending or failed.",
            refunded="Whether the charge was fully refunded.",
            disputed="Whether the charge was disputed.",
        ),
        events=(
            "charge.succeeded",
            "charge.updated",
            "charge.refunded",
            "charge.captured",
            "charge.failed",
            "charge.pending",
        ),
        sandbox=Volume(daily=45),
    ),
    StripeTable(
        name="invoices",
        object="invoice",
        path="/v1/invoices",
        permission="Invoices",
        description="Invoices, one row per invoice; lines live in invoice_line_items.",
        columns={
            **timestamps(
                "created",
                "period_start",
                "period_end",
                "due_date",
                "next_payment_attempt",
                "webhooks_delivered_at",
                "effective_at",
            ),
            **bigints(
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
        column_descriptions=_described(
            id="Invoice id (in_...).",
            **_ID_CREATED,
            customer="Customer id (cus_...).",
            subscription="Subscription id (sub_...), if the invoice comes from one.",
            status="draft, open, paid, uncollectible or void.",
            amount_due="Final amount due, in the minor unit.",
            amount_paid="Amount paid, in the minor unit.",
            total="Total after discounts and taxes, in the minor unit.",
            currency="Three-letter ISO currency code, lowercase.",
            period_start="Start of the usage period (UTC).",
            period_end="End of the usage period (UTC).",
        ),
        events=(
            "invoice.created",
            "invoice.updated",
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_succeeded",
            "invoice.payment_failed",
            "invoice.voided",
            "invoice.marked_uncollectible",
            "invoice.deleted",
        ),
        deleted_event="invoice.deleted",
        sandbox=Volume(daily=11),
    ),
    StripeTable(
        name="invoice_line_items",
        object="line_item",
        path="/v1/invoices/{id}/lines",
        permission="Invoices",
        description="Invoice line items, one row per (invoice, line id).",
        primary_key=("invoice", "id"),
        columns={**bigints("amount", "quantity")},
        child=ChildLink(
            parent="invoices",
            parent_column="invoice",
            path="/v1/invoices/{id}/lines",
            embedded_field="lines",
        ),
        column_descriptions=_described(
            invoice="Parent invoice id (in_...); with id, the primary key.",
            id="Line item id (il_...), unique within its invoice.",
            amount="Line amount, in the minor unit.",
            quantity="Quantity billed.",
            price="Price object (JSON).",
            period="Billing period of the line (JSON with start and end).",
            subscription_item="Subscription item id (si_...) billed by a subscription line.",
        ),
    ),
    StripeTable(
        name="subscriptions",
        object="subscription",
        path="/v1/subscriptions",
        permission="Subscriptions",
        description="Subscriptions in every status (canceled included); items live in "
        "subscription_items.",
        params={"status": "all"},
        columns=timestamps(
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
        column_descriptions=_described(
            id="Subscription id (sub_...).",
            **_ID_CREATED,
            customer="Customer id (cus_...).",
            status="trialing, active, past_due, canceled, unpaid, incomplete, ...",
            current_period_start="Start of the current billing period (UTC).",
            current_period_end="End of the current billing period (UTC).",
            canceled_at="When it was canceled (UTC), if it was.",
        ),
        events=(
            "customer.subscription.created",
            "customer.subscription.updated",
            "customer.subscription.deleted",
            "customer.subscription.paused",
            "customer.subscription.resumed",
        ),
        sandbox=Volume(daily=11),
    ),
    StripeTable(
        name="subscription_items",
        object="subscription_item",
        path="/v1/subscription_items",
        permission="Subscriptions",
        description="Subscription items, one row per item, linked by subscription.",
        columns={**timestamps("created"), **bigints("quantity")},
        child=ChildLink(
            parent="subscriptions",
            parent_column="subscription",
            path="/v1/subscription_items",
            params={"subscription": "{id}"},
            embedded_field="items",
        ),
        column_descriptions=_described(
            id="Subscription item id (si_...).",
            subscription="Parent subscription id (sub_...).",
            created="When the item was created (UTC).",
            quantity="Quantity subscribed today.",
            price="Price object (JSON).",
        ),
    ),
    StripeTable(
        name="payouts",
        object="payout",
        path="/v1/payouts",
        permission="Payouts",
        description="Payouts to the bank account, one row per payout.",
        columns={**timestamps("created", "arrival_date"), **bigints("amount")},
        column_descriptions=_described(
            id="Payout id (po_...).",
            **_ID_CREATED,
            amount="Amount paid out, in the minor unit.",
            arrival_date="Expected arrival in the bank (UTC).",
            status="paid, pending, in_transit, canceled or failed.",
            currency="Three-letter ISO currency code, lowercase.",
            automatic="Whether Stripe created it on the payout schedule (then its "
            "transactions are listed in payout_transactions).",
        ),
        events=(
            "payout.created",
            "payout.updated",
            "payout.paid",
            "payout.failed",
            "payout.canceled",
        ),
        sandbox=Volume(daily=1),
    ),
    StripeTable(
        name="payout_transactions",
        object="balance_transaction",
        path="/v1/balance_transactions",
        permission="Balance transaction sources",
        description="Balance transactions settled by each payout, one row per "
        "(payout_id, transaction id).",
        primary_key=("payout_id", "id"),
        columns={**timestamps("created", "available_on"), **bigints("amount", "fee", "net")},
        child=ChildLink(
            parent="payouts",
            parent_column="payout_id",
            path="/v1/balance_transactions",
            params={"payout": "{id}"},
            parent_filter=("automatic", True),
        ),
        column_descriptions=_described(
            payout_id="Payout id (po_...) that settled the transaction; with id, the key.",
            id="Balance transaction id (txn_...).",
            created="When the transaction was created (UTC).",
            available_on="When the funds became available (UTC).",
            amount="Gross amount, in the minor unit.",
            fee="Stripe fees, in the minor unit.",
            net="amount - fee, in the minor unit.",
            type="charge, refund, adjustment, payout, ...",
        ),
    ),
    StripeTable(
        name="balance_transactions",
        object="balance_transaction",
        path="/v1/balance_transactions",
        permission="Balance transaction sources",
        description="Every balance transaction (charges, refunds, disputes, payouts, ...), one "
        "row per transaction.",
        columns={**timestamps("created", "available_on"), **bigints("amount", "fee", "net")},
        column_descriptions=_described(
            id="Balance transaction id (txn_...).",
            **_ID_CREATED,
            available_on="When the funds become available (UTC).",
            amount="Gross amount, in the minor unit.",
            fee="Stripe fees, in the minor unit.",
            net="amount - fee, in the minor unit.",
            currency="Three-letter ISO currency code, lowercase.",
            type="charge, refund, adjustment, payout, topup, ...",
            reporting_category="Stripe's reporting category (charge, refund, dispute, payout).",
            source="Id of the object that moved the balance (ch_, re_, du_, po_, ...).",
            status="pending or available; turns available without an event.",
        ),
    ),
    StripeTable(
        name="refunds",
        object="refund",
        path="/v1/refunds",
        permission="Refunds",
        description="Refunds of charges, one row per refund.",
        columns={**timestamps("created"), **bigints("amount")},
        column_descriptions=_described(
            id="Refund id (re_...).",
            **_ID_CREATED,
            amount="Amount refunded, in the minor unit.",
            charge="Refunded charge id (ch_...).",
            currency="Three-letter ISO currency code, lowercase.",
            status="pending, requires_action, succeeded, failed or canceled.",
            balance_transaction="Balance transaction id (txn_...) of the refund.",
        ),
        events=("refund.created", "refund.updated", "charge.refund.updated"),
        sandbox=Volume(per="charge", share=0.08, after=(600, 7 * DAY)),
        refs=(
            Ref(
                "charge",
                "charges",
                copy=("currency", "payment_intent"),
                within="amount",
                total="amount_refunded",
            ),
        ),
    ),
    StripeTable(
        name="disputes",
        object="dispute",
        path="/v1/disputes",
        permission="Disputes",
        description="Disputes (chargebacks) of charges, one row per dispute.",
        columns={**timestamps("created"), **bigints("amount")},
        column_descriptions=_described(
            id="Dispute id (du_...).",
            **_ID_CREATED,
            amount="Disputed amount, in the minor unit.",
            charge="Disputed charge id (ch_...).",
            currency="Three-letter ISO currency code, lowercase.",
            status="warning_needs_response, needs_response, under_review, won, lost, ...",
            balance_transactions="Balance transactions of the dispute (JSON list).",
        ),
        events=(
            "charge.dispute.created",
            "charge.dispute.updated",
            "charge.dispute.closed",
            "charge.dispute.funds_withdrawn",
            "charge.dispute.funds_reinstated",
        ),
        sandbox=Volume(per="charge", share=0.04, after=(3_600, 7 * DAY)),
        refs=(
            Ref(
                "charge",
                "charges",
                copy=("currency", "payment_intent"),
                within="amount",
                back="disputed",
            ),
        ),
    ),
    StripeTable(
        name="payment_intents",
        object="payment_intent",
        path="/v1/payment_intents",
        permission="PaymentIntents",
        description="PaymentIntents, one row per payment intent (one per card charge).",
        columns={
            **timestamps("created", "canceled_at"),
            **bigints("amount", "amount_capturable", "amount_received"),
        },
        column_descriptions=_described(
            id="PaymentIntent id (pi_...).",
            **_ID_CREATED,
            amount="Amount intended to be collected, in the minor unit.",
            amount_received="Amount received, in the minor unit.",
            currency="Three-letter ISO currency code, lowercase.",
            customer="Customer id (cus_...), if any.",
            latest_charge="Latest charge id (ch_...) made by this payment intent.",
            status="requires_payment_method, processing, succeeded, canceled, ...",
        ),
        events=(
            "payment_intent.created",
            "payment_intent.succeeded",
            "payment_intent.payment_failed",
            "payment_intent.processing",
            "payment_intent.canceled",
            "payment_intent.requires_action",
            "payment_intent.amount_capturable_updated",
        ),
        sandbox=Volume(per="latest_charge", after=(-30, -1)),
        refs=(
            Ref(
                "latest_charge",
                "charges",
                copy=("amount", "currency", "customer", "invoice"),
                back="payment_intent",
            ),
        ),
    ),
    StripeTable(
        name="setup_intents",
        object="setup_intent",
        path="/v1/setup_intents",
        permission="SetupIntents",
        description="SetupIntents (saving a payment method for later), one row per intent.",
        columns=timestamps("created"),
        column_descriptions=_described(
            id="SetupIntent id (seti_...).",
            **_ID_CREATED,
            customer="Customer id (cus_...), if any.",
            status="requires_payment_method, succeeded, canceled, ...",
            usage="off_session or on_session.",
        ),
        events=(
            "setup_intent.created",
            "setup_intent.succeeded",
            "setup_intent.setup_failed",
            "setup_intent.canceled",
            "setup_intent.requires_action",
        ),
        sandbox=Volume(daily=3),
        refs=(Ref("customer", "customers", share=0.8),),
    ),
    StripeTable(
        name="invoice_items",
        object="invoiceitem",
        path="/v1/invoiceitems",
        permission="Invoices",
        description="Invoice items (one-off amounts added to invoices), one row per item.",
        created_field="date",
        columns={**timestamps("date"), **bigints("amount", "quantity", "unit_amount")},
        column_descriptions=_described(
            id="Invoice item id (ii_...).",
            date="When the item was created (UTC); its daily partition.",
            amount="Amount, in the minor unit.",
            currency="Three-letter ISO currency code, lowercase.",
            customer="Customer id (cus_...).",
            invoice="Invoice id (in_...) the item is on, if any.",
        ),
        events=("invoiceitem.created", "invoiceitem.deleted"),
        deleted_event="invoiceitem.deleted",
        sandbox=Volume(daily=2),
        refs=(Ref("invoice", "invoices", copy=("customer", "currency")),),
    ),
    StripeTable(
        name="credit_notes",
        object="credit_note",
        path="/v1/credit_notes",
        permission="Credit notes",
        description="Credit notes (adjustments of finalized invoices), one row per note; "
        "lines live in credit_note_line_items.",
        created_filter=False,
        columns={
            **timestamps("created", "voided_at"),
            **bigints("amount", "subtotal", "total", "discount_amount", "amount_shipping"),
        },
        column_descriptions=_described(
            id="Credit note id (cn_...).",
            **_ID_CREATED,
            amount="Total credited, in the minor unit.",
            currency="Three-letter ISO currency code, lowercase.",
            customer="Customer id (cus_...).",
            invoice="Credited invoice id (in_...).",
            status="issued or void.",
        ),
        events=("credit_note.created", "credit_note.updated", "credit_note.voided"),
        sandbox=Volume(per="invoice", share=0.08, after=(3_600, 6 * DAY)),
        refs=(Ref("invoice", "invoices", copy=("customer", "currency"), within="total"),),
    ),
    StripeTable(
        name="credit_note_line_items",
        object="credit_note_line_item",
        path="/v1/credit_notes/{id}/lines",
        permission="Credit notes",
        description="Credit note line items, one row per (credit note, line id).",
        primary_key=("credit_note", "id"),
        columns=bigints("amount", "quantity", "unit_amount"),
        child=ChildLink(
            parent="credit_notes",
            parent_column="credit_note",
            path="/v1/credit_notes/{id}/lines",
            embedded_field="lines",
        ),
        column_descriptions=_described(
            credit_note="Parent credit note id (cn_...); with id, the primary key.",
            id="Credit note line item id (cnli_...).",
            amount="Amount credited by the line, in the minor unit.",
            quantity="Quantity credited.",
        ),
        sandbox=Volume(children=(1, 3)),
    ),
    # -- catalog snapshots -------------------------------------------------------------------
    StripeTable(
        name="products",
        object="product",
        path="/v1/products",
        permission="Products",
        description="Products of the catalog (snapshot), one row per product.",
        columns={**timestamps("created", "updated")},
        column_descriptions=_described(
            id="Product id (prod_...).", name="Product name.", active="Whether it is sold."
        ),
        events=("product.created", "product.updated", "product.deleted"),
        deleted_event="product.deleted",
        snapshot=True,
    ),
    StripeTable(
        name="prices",
        object="price",
        path="/v1/prices",
        permission="Prices",
        description="Prices of the catalog (snapshot), one row per price.",
        columns={**timestamps("created"), **bigints("unit_amount")},
        column_descriptions=_described(
            id="Price id (price_...).",
            product="Product id (prod_...).",
            unit_amount="Price per unit, in the currency's minor unit.",
            recurring="Billing interval and interval_count of a recurring price (JSON).",
        ),
        events=("price.created", "price.updated", "price.deleted"),
        deleted_event="price.deleted",
        snapshot=True,
    ),
    StripeTable(
        name="plans",
        object="plan",
        path="/v1/plans",
        permission="Plans",
        description="Plans (the older view of recurring prices, same ids) (snapshot).",
        columns={**timestamps("created"), **bigints("amount")},
        column_descriptions=_described(id="Plan id (the recurring price's id)."),
        events=("plan.created", "plan.updated", "plan.deleted"),
        deleted_event="plan.deleted",
        snapshot=True,
    ),
    StripeTable(
        name="coupons",
        object="coupon",
        path="/v1/coupons",
        permission="Coupons",
        description="Coupons (snapshot): a deleted coupon leaves the table.",
        columns={**timestamps("created", "redeem_by"), **bigints("amount_off")},
        events=("coupon.created", "coupon.updated", "coupon.deleted"),
        deleted_event="coupon.deleted",
        snapshot=True,
        sandbox=Volume(before=12, daily=0.3),
    ),
    StripeTable(
        name="promotion_codes",
        object="promotion_code",
        path="/v1/promotion_codes",
        permission="Promotion codes",
        description="Promotion codes of coupons (snapshot).",
        columns={**timestamps("created", "expires_at")},
        events=("promotion_code.created", "promotion_code.updated"),
        snapshot=True,
        sandbox=Volume(before=8, daily=0.3),
        refs=(Ref("coupon", "coupons", inline=True),),
    ),
    StripeTable(
        name="tax_rates",
        object="tax_rate",
        path="/v1/tax_rates",
        permission="Tax rates",
        description="Tax rates (snapshot).",
        columns=timestamps("created"),
        events=("tax_rate.created", "tax_rate.updated"),
        snapshot=True,
        sandbox=Volume(before=6, daily=0),
    ),
    StripeTable(
        name="shipping_rates",
        object="shipping_rate",
        path="/v1/shipping_rates",
        permission="Shipping rates",
        description="Shipping rates (snapshot); Stripe sends no events for them.",
        columns=timestamps("created"),
        snapshot=True,
        sandbox=Volume(before=4, daily=0),
    ),
    # -- customers' children ------------------------------------------------------------------
    StripeTable(
        name="payment_methods",
        object="payment_method",
        path="/v1/customers/{id}/payment_methods",
        permission="PaymentMethods",
        description="Payment methods attached to customers (one request per customer of the "
        "window: Stripe lists them per customer only).",
        columns=timestamps("created"),
        child=ChildLink(
            parent="customers",
            parent_column="customer",
            path="/v1/customers/{id}/payment_methods",
        ),
        sandbox=Volume(children=(1, 1)),
    ),
    StripeTable(
        name="customer_balance_transactions",
        object="customer_balance_transaction",
        path="/v1/customers/{id}/balance_transactions",
        permission="Customers",
        description="Customer balance (credit) transactions (one request per customer of the "
        "window).",
        columns={**timestamps("created"), **bigints("amount", "ending_balance")},
        child=ChildLink(
            parent="customers",
            parent_column="customer",
            path="/v1/customers/{id}/balance_transactions",
        ),
        sandbox=Volume(children=(0, 2), share_amount=False),
    ),
    # -- billing -------------------------------------------------------------------------------
    StripeTable(
        name="subscription_schedules",
        object="subscription_schedule",
        path="/v1/subscription_schedules",
        permission="Subscription schedules",
        description="Subscription schedules, one row per schedule.",
        columns=timestamps("created", "canceled_at", "completed_at", "released_at"),
        events=(
            "subscription_schedule.created",
            "subscription_schedule.updated",
            "subscription_schedule.canceled",
            "subscription_schedule.completed",
            "subscription_schedule.released",
        ),
        sandbox=Volume(per="subscription", share=0.1, after=(0, 0)),
        refs=(Ref("subscription", "subscriptions", copy=("customer",)),),
    ),
    StripeTable(
        name="checkout_sessions",
        object="checkout.session",
        path="/v1/checkout/sessions",
        permission="Checkout Sessions",
        description="Checkout Sessions; lines live in checkout_session_line_items.",
        created_filter=False,
        columns={**timestamps("created", "expires_at"), **bigints("amount_total")},
        events=(
            "checkout.session.completed",
            "checkout.session.expired",
            "checkout.session.async_payment_succeeded",
            "checkout.session.async_payment_failed",
        ),
        sandbox=Volume(daily=4),
        refs=(Ref("customer", "customers", share=0.7),),
    ),
    StripeTable(
        name="checkout_session_line_items",
        object="item",
        path="/v1/checkout/sessions/{id}/line_items",
        permission="Checkout Sessions",
        description="Line items of Checkout Sessions (one request per session).",
        primary_key=("checkout_session", "id"),
        columns=bigints("amount_subtotal", "amount_total", "quantity"),
        child=ChildLink(
            parent="checkout_sessions",
            parent_column="checkout_session",
            path="/v1/checkout/sessions/{id}/line_items",
        ),
        sandbox=Volume(children=(1, 3)),
    ),
    StripeTable(
        name="quotes",
        object="quote",
        path="/v1/quotes",
        permission="Quotes",
        description="Quotes; lines live in quote_line_items.",
        created_filter=False,
        columns={**timestamps("created", "expires_at"), **bigints("amount_total")},
        events=("quote.created", "quote.finalized", "quote.accepted", "quote.canceled"),
        sandbox=Volume(daily=1),
        refs=(Ref("customer", "customers"),),
    ),
    StripeTable(
        name="quote_line_items",
        object="item",
        path="/v1/quotes/{id}/line_items",
        permission="Quotes",
        description="Line items of quotes (one request per quote).",
        primary_key=("quote", "id"),
        columns=bigints("amount_subtotal", "amount_total", "quantity"),
        child=ChildLink(parent="quotes", parent_column="quote", path="/v1/quotes/{id}/line_items"),
        sandbox=Volume(children=(1, 3)),
    ),
    # -- money movement ----------------------------------------------------------------------
    StripeTable(
        name="topups",
        object="topup",
        path="/v1/topups",
        permission="Top-ups",
        description="Top-ups of the Stripe balance, one row per top-up.",
        columns={**timestamps("created", "expected_availability_date"), **bigints("amount")},
        events=("topup.created", "topup.succeeded", "topup.failed", "topup.canceled"),
        sandbox=Volume(daily=1),
    ),
    StripeTable(
        name="transfers",
        object="transfer",
        path="/v1/transfers",
        permission="Transfers",
        connect=True,
        description="Transfers to connected accounts; reversals live in transfer_reversals.",
        columns={**timestamps("created"), **bigints("amount", "amount_reversed")},
        events=("transfer.created", "transfer.updated", "transfer.reversed"),
        sandbox=Volume(daily=2),
        refs=(Ref("destination", "accounts"),),
    ),
    StripeTable(
        name="transfer_reversals",
        object="transfer_reversal",
        path="/v1/transfers/{id}/reversals",
        permission="Transfers",
        connect=True,
        description="Transfer reversals, linked by transfer.",
        columns={**timestamps("created"), **bigints("amount")},
        child=ChildLink(
            parent="transfers",
            parent_column="transfer",
            path="/v1/transfers/{id}/reversals",
            embedded_field="reversals",
        ),
        sandbox=Volume(children=(0, 1), share_amount=False),
    ),
    StripeTable(
        name="application_fees",
        object="application_fee",
        path="/v1/application_fees",
        permission="Application fees",
        connect=True,
        description="Application fees collected from connected accounts' charges.",
        columns={**timestamps("created"), **bigints("amount", "amount_refunded")},
        events=("application_fee.created", "application_fee.refunded"),
        sandbox=Volume(per="charge", share=0.05, after=(0, 60)),
        refs=(Ref("charge", "charges"), Ref("account", "accounts")),
    ),
    StripeTable(
        name="application_fee_refunds",
        object="fee_refund",
        path="/v1/application_fees/{id}/refunds",
        permission="Application fees",
        connect=True,
        description="Refunds of application fees, linked by fee.",
        columns={**timestamps("created"), **bigints("amount")},
        child=ChildLink(
            parent="application_fees",
            parent_column="fee",
            path="/v1/application_fees/{id}/refunds",
            embedded_field="refunds",
        ),
        sandbox=Volume(children=(0, 1), share_amount=False),
    ),
    # -- Connect -------------------------------------------------------------------------------
    StripeTable(
        name="accounts",
        object="account",
        path="/v1/accounts",
        permission="Connected accounts",
        connect=True,
        description="Connected accounts of a Connect platform.",
        columns=timestamps("created"),
        events=("account.updated",),
        sandbox=Volume(daily=0.5, before=5),
    ),
    StripeTable(
        name="persons",
        object="person",
        path="/v1/accounts/{id}/persons",
        permission="Connected accounts",
        connect=True,
        description="Persons of connected accounts (one request per account).",
        columns=timestamps("created"),
        child=ChildLink(
            parent="accounts", parent_column="account", path="/v1/accounts/{id}/persons"
        ),
        sandbox=Volume(children=(1, 2)),
    ),
    StripeTable(
        name="external_accounts",
        object="bank_account",
        path="/v1/accounts/{id}/external_accounts",
        permission="Connected accounts",
        connect=True,
        description="Bank accounts (and cards) of connected accounts (one request per account).",
        child=ChildLink(
            parent="accounts",
            parent_column="account",
            path="/v1/accounts/{id}/external_accounts",
        ),
        sandbox=Volume(children=(1, 1)),
    ),
    # -- fraud ---------------------------------------------------------------------------------
    StripeTable(
        name="reviews",
        object="review",
        path="/v1/reviews",
        permission="Reviews",
        description="Radar reviews of charges.",
        columns=timestamps("created"),
        events=("review.opened", "review.closed"),
        sandbox=Volume(per="charge", share=0.02, after=(0, 600)),
        refs=(Ref("charge", "charges", back="review"),),
    ),
    StripeTable(
        name="early_fraud_warnings",
        object="radar.early_fraud_warning",
        path="/v1/radar/early_fraud_warnings",
        permission="Early fraud warnings",
        description="Early fraud warnings from card networks.",
        created_filter=False,
        columns=timestamps("created"),
        events=("radar.early_fraud_warning.created", "radar.early_fraud_warning.updated"),
        sandbox=Volume(per="charge", share=0.01, after=(DAY, 5 * DAY)),
        refs=(Ref("charge", "charges"),),
    ),
    # -- the raw feed ------------------------------------------------------------------------
    StripeTable(
        name="events",
        object="event",
        path="/v1/events",
        permission="Events",
        description="Stripe's event feed, one row per event; Stripe keeps 30 days, so an older "
        "partition loads what is left.",
        kept_seconds=EVENT_RETENTION_SECONDS,
        columns=timestamps("created"),
        column_descriptions=_described(
            id="Event id (evt_...).",
            type="Event type (charge.succeeded, ...).",
            data="The object as it was, and its previous attributes (JSON).",
        ),
    ),
)

TABLES_BY_NAME: dict[str, StripeTable] = {table.name: table for table in TABLES}


REGISTERED: list[StripeTable] = []
"""Entries added by `register` (page worker processes get them too)."""


def register(*entries: StripeTable) -> None:
    """Add tables to the registry, before anything else of the project is imported (the
    assets, checks and sandbox are built from the registry as they import). The shipped
    tables are the entries above; this is how a test (or a fork-free extension) adds one."""
    global TABLES
    for entry in entries:
        if entry.name in TABLES_BY_NAME:
            raise ValueError(f"table {entry.name!r} is already registered")
        TABLES_BY_NAME[entry.name] = entry
    TABLES = (*TABLES, *entries)
    REGISTERED.extend(entries)


def children_of(parent: str) -> list[StripeTable]:
    return [t for t in TABLES if t.child is not None and t.child.parent == parent]


def embedded_fields_of(parent: str) -> tuple[str, ...]:
    """Fields to drop from a parent row because a child table holds them."""
    return tuple(
        t.child.embedded_field for t in children_of(parent) if t.child and t.child.embedded_field
    )


def created_field_of(table: str) -> str:
    return TABLES_BY_NAME[table].created_field


def table_of_object() -> dict[str, str]:
    """Stripe object type -> the top-level table whose events reload it (events sensor)."""
    return {t.object: t.name for t in TABLES if not t.is_child and t.events}


def deletion_events() -> dict[str, str]:
    """Event type -> table whose object it removes from Stripe's lists."""
    return {t.deleted_event: t.name for t in TABLES if t.deleted_event}
