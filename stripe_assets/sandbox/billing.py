"""The account's billing history, coherent the way Stripe's is: customers billed in usd, jpy
(zero-decimal) or kwd (three-decimal); a catalog of products and prices in those currencies;
subscriptions invoiced at the start of every period (month, quarter, year or week) with one
line per item at the item's price and quantity, quantity changes showing in later invoices,
trials, discounts and cancellations; one-off invoices of one-time prices; and the charges that
pay invoices (plus standalone charges).

Everything is generated day by day from per-day random streams, in ``created`` order per
table. Other resources (refunds, disputes, payment intents, ...) follow from the registry's
declared relations (``generic.py``); balance transactions and payouts from ``money.py``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .world import DAY, Picker, World, mix

CURRENCIES = (("usd", 88), ("jpy", 7), ("kwd", 5))
"""Customer currencies and their weights."""
MINOR_PER_USD_CENT = {"usd": 1.0, "jpy": 1.5, "kwd": 3.07}
"""Minor units per US cent: 150 JPY (no decimals) and 0.307 KWD (three decimals) a dollar."""

FIRST = (
    "Ada", "Alan", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances",
    "Edsger", "Radia", "Tim", "Sophie", "John", "Katherine", "Guido", "Hedy", "Donald",
    "Annie", "Niklaus", "Joan", "Bjarne", "Mary", "James", "Lynn", "Robin", "Carol", "Leslie",
)  # fmt: skip
LAST = (
    "Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie",
    "Allen", "Dijkstra", "Perlman", "Berners-Lee", "Wilson", "McCarthy", "Johnson", "Rossum",
    "Lamarr", "Knuth", "Easley", "Wirth", "Clarke", "Stroustrup", "Shaw", "Gosling", "Conway",
)  # fmt: skip
BRANDS = (("visa", "4242"), ("mastercard", "4444"), ("amex", "8431"), ("discover", "1117"))
DESCRIPTIONS = ("Order", "Invoice payment", "Top-up", "Consulting", "Hardware", "Subscription")

RECURRING = (
    # (nickname, usd cents, interval, interval_count, how many prices of this kind)
    ("Seat", 900, "month", 1, 32),
    ("Quarterly plan", 7_500, "month", 3, 4),
    ("Annual plan", 29_000, "year", 1, 4),
    ("Weekly plan", 500, "week", 1, 2),
)
INTERVAL_WEIGHTS = (("month", 1, 78), ("month", 3, 6), ("year", 1, 11), ("week", 1, 5))
ONE_TIME = (150, 500, 1_200, 2_500, 4_000, 7_500, 15_000, 50_000)
INVOICE_STATUS_WEIGHTS = (
    ("draft", 8),
    ("open", 15),
    ("paid", 70),
    ("void", 4),
    ("uncollectible", 3),
)


def to_minor(usd_cents: int, currency: str) -> int:
    """A US-cent amount in a currency's minor unit (kwd rounded to tens of fils, as Stripe's
    card payments require for three-decimal currencies)."""
    value = round(usd_cents * MINOR_PER_USD_CENT[currency])
    return max(10, round(value, -1)) if currency == "kwd" else max(1, value)


def fee_for(amount: int, currency: str) -> int:
    """Stripe's card fee: 2.9% plus a fixed 30 US cents (never more than the amount)."""
    return min(amount, amount * 29 // 1000 + to_minor(30, currency)) if amount > 0 else 0


def add_interval(t: int, interval: str, count: int, anchor_day: int) -> int:
    """``t`` moved by one billing interval; months keep the anchor's day of month (clamped
    to the month's length), as Stripe's billing cycle does."""
    if interval == "week":
        return t + 7 * DAY * count
    if interval == "day":
        return t + DAY * count
    d = datetime.fromtimestamp(t, UTC)
    months = count * (12 if interval == "year" else 1)
    year, month = divmod(d.month - 1 + months, 12)
    year, month = d.year + year, month + 1
    day = min(anchor_day, calendar.monthrange(year, month)[1])
    return int(d.replace(year=year, month=month, day=day).timestamp())


@dataclass
class Price:
    row: int
    usd: int
    amount: int
    currency: str
    interval: str | None
    count: int
    nickname: str


@dataclass
class Catalog:
    """Prices by (currency, interval, interval_count); one-time prices by currency."""

    recurring: dict[tuple[str, str, int], list[Price]] = field(default_factory=dict)
    one_time: dict[str, list[Price]] = field(default_factory=dict)
    by_row: dict[int, Price] = field(default_factory=dict)


def _catalog_columns(w: World) -> None:
    products, prices, plans = w.table("product"), w.table("price"), w.table("plan")
    plans.codec = prices.codec  # a plan's id is its price's: the tables share row numbers
    plans.add("product", ref=products)
    for name in ("amount", "amount_decimal", "currency", "interval", "interval_count"):
        plans.add(name)
    plans.add("nickname")
    for name in ("name", "description"):
        products.add(name)
    products.add("default_price", ref=prices)
    products.add("updated")
    prices.add("product", ref=products)
    for name in ("unit_amount", "unit_amount_decimal", "currency", "recurring", "type"):
        prices.add(name)
    prices.add("nickname")


def new_product(w: World, t: int, label: str) -> int:
    products = w.table("product")
    row = products.append(t, name=label, description=f"{label} (sandbox)")
    products.cols["updated"][row] = t
    return row


def new_price(
    w: World,
    t: int,
    product: int,
    usd_amount: int,
    currency: str,
    interval: str | None,
    count: int,
    label: str,
) -> Price:
    """A price of a product, with its plan when recurring (a one-time price has none)."""
    amount = to_minor(usd_amount, currency)
    recurring = (
        {"aggregate_usage": None, "interval": interval, "interval_count": count,
         "usage_type": "licensed"}
        if interval
        else None
    )  # fmt: skip
    row = w.table("price").append(
        t,
        product=product,
        unit_amount=amount,
        unit_amount_decimal=str(amount),
        currency=currency,
        recurring=recurring,
        type="recurring" if interval else "one_time",
        nickname=label,
    )
    plans = w.table("plan")
    plan = plans.append(
        t,
        product=product,
        amount=amount,
        amount_decimal=str(amount),
        currency=currency,
        interval=interval,
        interval_count=count,
        nickname=label,
    )
    assert plan == row
    if not interval:
        plans.deleted[plan] = 1  # never listed
    return Price(row, usd_amount, amount, currency, interval, count, label)


def catalog(w: World) -> Catalog:
    """Products and their prices in every currency, created before the data window; a plan
    (Stripe's older view of a recurring price, same id) for every recurring price."""
    _catalog_columns(w)
    products = w.table("product")
    cat = Catalog()
    created = w.start - 120 * DAY
    kinds = [(n, usd, iv, c, k) for n, usd, iv, c, many in RECURRING for k in range(many)]
    kinds += [("Add-on", usd, None, 1, k) for k, usd in enumerate(ONE_TIME)]
    for nickname, usd, interval, count, k in kinds:
        usd_amount = usd + 100 * k if interval else usd
        label = f"{nickname} {k + 1}"
        product = new_product(w, created, label)
        for currency, _ in CURRENCIES:
            price = new_price(w, created, product, usd_amount, currency, interval, count, label)
            cat.by_row[price.row] = price
            if interval:
                cat.recurring.setdefault((currency, interval, count), []).append(price)
            else:
                cat.one_time.setdefault(currency, []).append(price)
            if currency == "usd":
                products.cols["default_price"][product] = price.row
    return cat


class Billing:
    """One pass over the window: customers, subscriptions and their invoices, one-off
    invoices, and the charges that pay them."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.cat = catalog(w)
        self.customers = w.of("customers")
        self.charges = w.of("charges")
        self.invoices = w.of("invoices")
        self.lines = w.of("invoice_line_items")
        self.subs = w.of("subscriptions")
        self.items = w.of("subscription_items")
        self.lines_of = w.rels["invoice_line_items"]
        self.items_of = w.rels["subscription_items"]
        self._columns()
        self.invoice_seq: dict[int, int] = {}

    def _columns(self) -> None:
        c, ch, inv, ln, sub, it = (
            self.customers,
            self.charges,
            self.invoices,
            self.lines,
            self.subs,
            self.items,
        )
        prices = self.w.table("price")
        for name in ("name", "email", "currency", "invoice_prefix", "next_invoice_sequence"):
            c.add(name)
        c.add("balance", 0)
        c.add("delinquent", False)
        ch.add("customer", ref=c)
        ch.add("invoice", ref=inv)
        ch.add("payment_intent", ref=self.w.table("payment_intent"))
        ch.add("balance_transaction", ref=self.w.table("balance_transaction"))
        for name in ("amount", "currency", "status", "description"):
            ch.add(name)
        ch.add("amount_refunded", 0)
        ch.add("disputed", False)
        for name in (
            "billing_details.name",
            "payment_method_details.card.brand",
            "payment_method_details.card.network",
            "payment_method_details.card.last4",
            "payment_method_details.card.exp_year",
        ):
            ch.add(name)
        ch.add("refunds", None)  # API 2022-11-15: refunds are not included by default
        inv.add("customer", ref=c)
        inv.add("subscription", ref=sub)
        inv.add("charge", ref=ch)
        inv.add("payment_intent", ref=self.w.table("payment_intent"), path="")
        for name in (
            "currency",
            "status",
            "subtotal",
            "billing_reason",
            "collection_method",
            "customer_email",
            "customer_name",
            "period_start",
            "period_end",
            "number",
            "due_date",
            "discount",
        ):
            inv.add(name)
        inv.add("total_discount", 0, path="")
        inv.add("total", 0, path="")
        ln.add("price", inline=prices)
        ln.add("plan", None)
        ln.add("subscription", ref=sub)
        ln.add("subscription_item", ref=it)
        for name in ("amount", "currency", "description", "quantity", "type", "period"):
            ln.add(name)
        ln.add("discount_amounts", [])
        ln.add("invoice_item", None)
        ln.add("proration", False)
        sub.add("customer", ref=c)
        sub.add("latest_invoice", ref=inv)
        for name in (
            "currency",
            "status",
            "collection_method",
            "billing_cycle_anchor",
            "start_date",
            "current_period_start",
            "current_period_end",
            "cancel_at",
            "canceled_at",
            "ended_at",
            "trial_start",
            "trial_end",
            "discount",
            "days_until_due",
        ):
            sub.add(name)
        sub.add("cancel_at_period_end", False)
        it.add("price", inline=prices)
        it.add("plan", None)
        it.add("subscription", ref=sub)
        it.add("quantity")
        ii = self.w.of("invoice_items")
        ii.add("customer", ref=c)
        ii.add("invoice", ref=inv)
        ii.add("price", inline=prices)
        ii.add("plan", None)
        for name in ("amount", "currency", "description", "quantity", "unit_amount", "period"):
            ii.add(name)
        ii.add("unit_amount_decimal")
        ii.add("subscription", None)
        ln.fields.pop("invoice_item")
        ln.add("invoice_item_ref", ref=ii, path="invoice_item")

    # -- customers -------------------------------------------------------------------------

    def make_customers(self) -> None:
        k = mix(self.w.seed, 7)
        names = [(f, last) for f in FIRST for last in LAST]
        codes = [code for code, weight in CURRENCIES for _ in range(weight)]
        for day in self.w.days:
            rng = self.w.rng("customers", day)
            n = self.w.daily_count(rng, self.w.volume("customers"), day)
            for t in self.w.times(rng, n, day):
                self.new_customer(t, codes[rng.randrange(len(codes))], names, k)

    def new_customer(self, t: int, currency: str, names: list | None = None, k: int = 0) -> int:
        c = self.customers
        row = len(c)
        h = mix(k or mix(self.w.seed, 7), row)
        pool = names or [(f, last) for f in FIRST for last in LAST]
        first, last = pool[h % len(pool)]
        return c.append(
            t,
            name=f"{first} {last}",
            email=f"{first}.{last}.{row}@example.com".lower(),
            currency=currency,
            invoice_prefix=f"{h >> 8 & 0xFFFFFFF:07X}",
            next_invoice_sequence=1,
        )

    # -- invoices and charges --------------------------------------------------------------

    def number_for(self, customer: int) -> str:
        seq = self.invoice_seq.get(customer, 0) + 1
        self.invoice_seq[customer] = seq
        if customer >= 0:
            self.customers.cols["next_invoice_sequence"][customer] = seq + 1
        prefix = self.customers.cols["invoice_prefix"][customer] if customer >= 0 else "GUEST"
        return f"{prefix}-{seq:04d}"

    def new_invoice(
        self,
        t: int,
        customer: int,
        currency: str,
        status: str,
        collection: str,
        reason: str,
        sub: int = -1,
        period: tuple[int, int] | None = None,
        discount: dict | None = None,
    ) -> int:
        cols = self.customers.cols
        row = self.invoices.append(
            t,
            customer=customer,
            subscription=sub,
            currency=currency,
            status=status,
            subtotal=0,
            billing_reason=reason,
            collection_method=collection,
            customer_email=cols["email"][customer] if customer >= 0 else None,
            customer_name=cols["name"][customer] if customer >= 0 else None,
            period_start=period[0] if period else t,
            period_end=period[1] if period else t,
            number=self.number_for(customer) if status != "draft" else None,
            due_date=t + 30 * DAY if collection == "send_invoice" else None,
            discount=discount,
        )
        self.lines_of.kids.append([])
        return row

    def add_line(self, invoice: int, price: Price, qty: int, **values: object) -> int:
        amount = price.amount * qty
        inv = self.invoices.cols
        period = values.pop("period", None) or {
            "end": self.invoices.created[invoice],
            "start": self.invoices.created[invoice],
        }
        discount_pct = values.pop("discount_pct", 0)
        discount = amount * int(discount_pct) // 100
        row = self.lines.append(
            self.invoices.created[invoice],
            price=price.row,
            amount=amount,
            currency=price.currency,
            quantity=qty,
            period=period,
            discount_amounts=[{"amount": discount, "discount": f"di_{invoice}x{price.row}"}]
            if discount
            else [],
            **values,
        )
        self.lines_of.add(invoice, row)
        inv["subtotal"][invoice] += amount
        inv["total_discount"][invoice] += discount
        inv["total"][invoice] += amount - discount
        return row

    def new_charge(
        self,
        t: int,
        customer: int,
        amount: int,
        currency: str,
        status: str = "succeeded",
        invoice: int = -1,
        rng_key: int | None = None,
    ) -> int:
        ch = self.charges
        row = len(ch)
        h = mix(mix(self.w.seed, 0x55), row if rng_key is None else rng_key)
        brand, last4 = BRANDS[h % len(BRANDS)]
        name = self.customers.cols["name"][customer] if customer >= 0 else "Guest"
        return ch.append(
            t,
            customer=customer,
            invoice=invoice,
            amount=amount,
            currency=currency,
            status=status,
            description=DESCRIPTIONS[(h >> 8) % len(DESCRIPTIONS)]
            if invoice < 0
            else "Invoice payment",
            **{
                "billing_details.name": name,
                "payment_method_details.card.brand": brand,
                "payment_method_details.card.network": brand,
                "payment_method_details.card.last4": last4,
                "payment_method_details.card.exp_year": 2027 + (h >> 16) % 5,
            },
        )

    def pay(self, invoice: int, t: int) -> None:
        """Charge a paid invoice's total (when there is one to charge)."""
        cols = self.invoices.cols
        total = cols["total"][invoice]
        if t >= self.w.end:  # not paid yet when the window ends
            cols["status"][invoice] = "open"
            return
        if total <= 0:
            return
        charge = self.new_charge(
            t, cols["customer"][invoice], total, cols["currency"][invoice], invoice=invoice
        )
        cols["charge"][invoice] = charge

    # -- subscriptions -----------------------------------------------------------------------

    def make_subscriptions(self) -> list[tuple[int, int]]:
        """Subscriptions with their items and every period's invoice. Returns (time, invoice)
        of the invoices to charge."""
        w = self.w
        customers = Picker(self.customers)
        to_charge: list[tuple[int, int]] = []
        plans = [(iv, c) for iv, c, weight in INTERVAL_WEIGHTS for _ in range(weight)]
        for day in w.days:
            rng = w.rng("subscriptions", day)
            n = w.daily_count(rng, w.volume("subscriptions"), day)
            for t in w.times(rng, n, day):
                customer = customers.before(rng, t)
                if customer < 0:
                    continue
                interval, count = plans[rng.randrange(len(plans))]
                to_charge += self.subscription(rng, t, customer, interval, count)
        return to_charge

    def new_subscription(self, rng, t: int, customer: int, n_items: int) -> int:
        """A subscription started now (a mutation): its items and first invoice, paid."""
        charges = self.subscription(rng, t, customer, "month", 1, n_items=n_items, until=t + 1)
        sub = len(self.subs) - 1
        self.subs.cols["status"][sub] = "active"
        for _, invoice in charges:
            self.invoices.cols["status"][invoice] = "open"  # paid by a later `pay` mutation
        return sub

    def subscription(
        self,
        rng,
        t: int,
        customer: int,
        interval: str,
        count: int,
        n_items: int | None = None,
        until: int | None = None,
    ) -> list[tuple[int, int]]:
        w = self.w
        end = w.end if until is None else until
        currency = self.customers.cols["currency"][customer]
        prices = self.cat.recurring[(currency, interval, count)]
        if n_items is None:
            r = rng.random()
            n_items = rng.randint(11, 30) if r < 0.08 else rng.choice((1, 1, 1, 2, 2, 3, 4, 5))
        chosen = rng.sample(prices, min(n_items, len(prices)))
        collection = "charge_automatically" if rng.random() < 0.9 else "send_invoice"
        discount_pct = 20 if rng.random() < 0.08 else 0
        sub = self.subs.append(
            t,
            customer=customer,
            currency=currency,
            collection_method=collection,
            billing_cycle_anchor=t,
            start_date=t,
            days_until_due=30 if collection == "send_invoice" else None,
            discount=_discount(sub_row=len(self.subs), pct=discount_pct) if discount_pct else None,
        )
        self.items_of.kids.append([])
        first_end = add_interval(t, interval, count, datetime.fromtimestamp(t, UTC).day)
        self.subs.cols["current_period_start"][sub] = t
        self.subs.cols["current_period_end"][sub] = first_end
        items = []
        for price in chosen:
            qty = 1 if rng.random() < 0.7 else rng.randint(2, 20)
            item = self.items.append(t, price=price.row, subscription=sub, quantity=qty)
            self.items_of.add(sub, item)
            items.append([item, price, qty])
        trial_end = t + 14 * DAY if rng.random() < 0.1 else None
        cancel_at = None
        if rng.random() < 0.25:  # a quarter end: half within their first week, half later
            early = rng.random() < 0.5
            delay = rng.randint(3_600, 7 * DAY) if early else int(rng.expovariate(1 / (60 * DAY)))
            cancel_at = t + max(3_600, delay)
        change_period = rng.randint(1, 4) if rng.random() < 0.18 else None
        skip_period = rng.randint(1, 4) if rng.random() < 0.04 else None
        fails_at = rng.randint(0, 5) if rng.random() < 0.05 else None
        anchor_day = datetime.fromtimestamp(trial_end or t, UTC).day
        cols = self.subs.cols
        charges: list[tuple[int, int]] = []
        status = "active"
        start = t
        last_invoice = -1
        if trial_end is not None:
            cols["trial_start"][sub], cols["trial_end"][sub] = t, trial_end
            inv = self.new_invoice(
                t,
                customer,
                currency,
                "paid",
                collection,
                "subscription_create",
                sub,
                (t, trial_end),
            )
            for item, price, qty in items:
                line = self.add_line(
                    inv,
                    price,
                    qty,
                    period={"end": trial_end, "start": t},
                    subscription=sub,
                    subscription_item=item,
                    type="subscription",
                    description=f"Trial period for {price.nickname}",
                )
                self.lines.cols["amount"][line] = 0
            self.invoices.cols["subtotal"][inv] = self.invoices.cols["total"][inv] = 0
            last_invoice, start = inv, trial_end
            status = "trialing"
        period = 0
        period_start = start
        ended = False
        while period_start < end:
            period_end = add_interval(period_start, interval, count, anchor_day)
            if cancel_at is not None and cancel_at <= period_start:
                ended = True
                break
            if period == change_period:
                item = items[rng.randrange(len(items))]
                item[2] = max(1, item[2] * 2 if rng.random() < 0.6 else item[2] - 1)
                self.items.cols["quantity"][item[0]] = item[2]
            first = period == 0 and trial_end is None
            reason = "subscription_create" if first else "subscription_cycle"
            if period == change_period:
                reason = "subscription_update"
            fail = fails_at is not None and period >= fails_at
            inv_status = "void" if period == skip_period else ("open" if fail else "paid")
            inv = self.new_invoice(
                period_start,
                customer,
                currency,
                inv_status,
                collection,
                reason,
                sub,
                (period_start, period_end),
            )
            for item, price, qty in items:
                self.add_line(
                    inv,
                    price,
                    qty,
                    period={"end": period_end, "start": period_start},
                    subscription=sub,
                    subscription_item=item,
                    type="subscription",
                    description=f"{qty} \u00d7 {price.nickname}",  # as Stripe words it
                    discount_pct=discount_pct,
                )
            last_invoice = inv
            if inv_status == "paid":
                delay = rng.randint(1, 5) if collection == "charge_automatically" else None
                if delay is None:
                    delay = rng.randint(DAY, 10 * DAY)
                charges.append((period_start + delay, inv))
            cols["current_period_start"][sub] = period_start
            cols["current_period_end"][sub] = period_end
            if fail:
                status = "incomplete" if first else "past_due"
                if first:
                    if period_start + DAY < end:
                        status = "incomplete_expired"
                        self.invoices.cols["status"][inv] = "void"
                        cols["ended_at"][sub] = period_start + DAY
                    break
            elif status == "trialing" and period_start >= (trial_end or 0):
                status = "active"
            period += 1
            period_start = period_end
        if ended and cancel_at is not None:
            status = "canceled"
            cols["canceled_at"][sub] = cancel_at
            cols["ended_at"][sub] = cancel_at
            cols["cancel_at"][sub] = None
        elif cancel_at is not None and cancel_at < end:
            status = "canceled"
            cols["canceled_at"][sub] = cancel_at
            cols["ended_at"][sub] = cancel_at
        elif cancel_at is not None:
            cols["cancel_at"][sub] = cancel_at
        cols["status"][sub] = status
        cols["latest_invoice"][sub] = last_invoice
        return charges

    def make_one_off_invoices(self) -> list[tuple[int, int]]:
        w = self.w
        customers = Picker(self.customers)
        statuses = [s for s, weight in INVOICE_STATUS_WEIGHTS for _ in range(weight)]
        to_charge = []
        for day in w.days:
            rng = w.rng("invoices", day)
            n = w.daily_count(rng, w.volume("invoices"), day)
            for t in w.times(rng, n, day):
                customer = customers.before(rng, t)
                if customer < 0:
                    continue
                currency = self.customers.cols["currency"][customer]
                status = statuses[rng.randrange(len(statuses))]
                collection = "charge_automatically" if rng.random() < 0.85 else "send_invoice"
                inv = self.new_invoice(t, customer, currency, status, collection, "manual")
                r = rng.random()
                if r < 0.025:
                    n_lines = rng.randint(101, 260)
                elif r < 0.12:
                    n_lines = rng.randint(11, 40)
                else:
                    n_lines = rng.choice((1, 1, 1, 2, 2, 3, 4, 6))
                prices = self.cat.one_time[currency]
                for _ in range(n_lines):
                    price = prices[rng.randrange(len(prices))]
                    qty = 1 if rng.random() < 0.6 else rng.randint(2, 9)
                    item = self.invoice_item(t - rng.randint(60, 6 * 3600), inv, price, qty)
                    self.add_line(
                        inv,
                        price,
                        qty,
                        type="invoiceitem",
                        description=price.nickname,
                        invoice_item_ref=item,
                    )
                if status == "paid":
                    delay = rng.randint(0, 4) if collection == "charge_automatically" else None
                    to_charge.append((t + (delay if delay is not None else DAY), inv))
        return to_charge

    def invoice_item(self, t: int, invoice: int, price: Price, qty: int) -> int:
        """An invoice item (pending until ``invoice`` pulls it in; -1: still pending)."""
        cols = self.invoices.cols
        customer = cols["customer"][invoice] if invoice >= 0 else -1
        return self.w.of("invoice_items").append(
            max(t, self.w.start),
            customer=customer,
            invoice=invoice,
            price=price.row,
            amount=price.amount * qty,
            currency=price.currency,
            description=price.nickname,
            quantity=qty,
            unit_amount=price.amount,
            unit_amount_decimal=str(price.amount),
            period={"end": t, "start": t},
        )

    def make_pending_items(self) -> None:
        """Invoice items not on any invoice yet (the registry's daily volume)."""
        w = self.w
        customers = Picker(self.customers)
        for day in w.days:
            rng = w.rng("invoice_items", day)
            for t in w.times(rng, w.daily_count(rng, w.volume("invoice_items"), day), day):
                customer = customers.before(rng, t)
                if customer < 0:
                    continue
                currency = self.customers.cols["currency"][customer]
                prices = self.cat.one_time[currency]
                item = self.invoice_item(t, -1, prices[rng.randrange(len(prices))], 1)
                self.w.of("invoice_items").cols["customer"][item] = customer

    def make_charges(self, invoice_charges: list[tuple[int, int]]) -> None:
        """Standalone charges and invoice payments, in created order."""
        w = self.w
        customers = Picker(self.customers)
        todo = sorted(invoice_charges)
        amounts = (500, 1000, 1500, 2000, 2500, 4999, 9900, 12000)
        i = 0
        for day in w.days:
            rng = w.rng("charges", day)
            n = w.daily_count(rng, w.volume("charges"), day)
            specs = []
            for t in w.times(rng, n, day):
                customer = customers.before(rng, t) if rng.random() < 0.75 else -1
                usd = rng.choice(amounts) if rng.random() < 0.6 else rng.randint(50, 250_000)
                currency = self.customers.cols["currency"][customer] if customer >= 0 else "usd"
                status = rng.choices(("succeeded", "failed", "pending"), (92, 6, 2))[0]
                specs.append((t, -1, customer, to_minor(usd, currency), currency, status))
            while i < len(todo) and todo[i][0] < day + DAY:
                t, inv = todo[i]
                i += 1
                specs.append((t, inv, -2, 0, "", "succeeded"))
            specs.sort(key=lambda s: (s[0], s[1]))
            for t, inv, customer, amount, currency, status in specs:
                if inv >= 0:
                    self.pay(inv, t)
                else:
                    self.new_charge(t, customer, amount, currency, status)


def _discount(sub_row: int, pct: int) -> dict:
    return {
        "id": f"di_sub{sub_row}",
        "object": "discount",
        "checkout_session": None,
        "coupon": {
            "id": f"SANDBOX{pct}",
            "object": "coupon",
            "amount_off": None,
            "created": 0,
            "currency": None,
            "duration": "forever",
            "duration_in_months": None,
            "livemode": False,
            "max_redemptions": None,
            "metadata": {},
            "name": f"{pct}% off",
            "percent_off": pct,
            "redeem_by": None,
            "times_redeemed": 1,
            "valid": True,
        },
        "customer": None,
        "end": None,
        "invoice": None,
        "invoice_item": None,
        "promotion_code": None,
        "start": 0,
        "subscription": None,
    }


def generate(w: World) -> Billing:
    """Fill customers, catalog, subscriptions (+items), invoices (+lines) and charges."""
    b = Billing(w)
    b.make_customers()
    charges = b.make_subscriptions()
    charges += b.make_one_off_invoices()
    b.make_charges(charges)
    b.make_pending_items()
    w.owned.update(
        w.of(name).obj
        for name in (
            "customers",
            "charges",
            "invoices",
            "invoice_line_items",
            "subscriptions",
            "subscription_items",
            "invoice_items",
        )
    )
    w.owned.update(("product", "price", "plan"))
    return b
