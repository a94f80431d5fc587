"""Deterministic generation of a Stripe account's objects from (seed, start, end, scale).

Every table is generated day by day with its own ``random.Random(hash(seed, table, day))``, in
``created`` order, into compact array columns (see ``store.Table``). Rendering to JSON lives in
``render.py``.
"""

from __future__ import annotations

import hashlib
import random
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .config import SandboxConfig
from .ids import IdCodec, tag
from .store import ChildRel, EventLog, Table

DAY = 86400

# Status codes stored in byte columns; the index is the code.
CHARGE_STATUS = ("succeeded", "failed", "pending")
INVOICE_STATUS = ("draft", "open", "paid", "void", "uncollectible")
SUB_STATUS = (
    "active",
    "canceled",
    "trialing",
    "past_due",
    "unpaid",
    "incomplete",
    "incomplete_expired",
    "paused",
)
PAYOUT_STATUS = ("paid", "pending", "in_transit", "canceled", "failed")
BILLING_REASON = ("manual", "subscription_create", "subscription_cycle", "subscription_update")
COLLECTION = ("charge_automatically", "send_invoice")

# Mean objects per day at scale=1.0 (before weekend dips and empty days).
DAILY = {"customers": 18.0, "subscriptions": 11.0, "invoices": 11.0, "charges": 45.0}
EMPTY_DAY_P = 0.08


@dataclass(frozen=True)
class Price:
    """One catalog price; ``interval`` None means a one-time price."""

    id: str
    product: str
    unit_amount: int
    interval: str | None
    nickname: str


@dataclass
class SandboxData:
    """All tables of one sandbox plus the parent -> child relations and the event log."""

    seed: int
    start_ts: int
    end_ts: int
    customers: Table
    charges: Table
    invoices: Table
    lines: Table
    subscriptions: Table
    items: Table
    payouts: Table
    txns: Table
    events: EventLog
    invoice_lines: ChildRel
    sub_items: ChildRel
    payout_txns: ChildRel
    prices: list[Price]
    account_id: str
    extra: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def tables(self) -> dict[str, Table]:
        return {
            "customers": self.customers,
            "charges": self.charges,
            "invoices": self.invoices,
            "invoice_line_items": self.lines,
            "subscriptions": self.subscriptions,
            "subscription_items": self.items,
            "payouts": self.payouts,
            "balance_transactions": self.txns,
        }

    def total_objects(self) -> int:
        return sum(len(t) for t in self.tables.values()) + len(self.events)


def _seed_int(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big")


def mix(key: int, row: int) -> int:
    """Cheap deterministic 64-bit hash of a row number (for per-row cosmetic fields)."""
    h = (row * 0x9E3779B97F4A7C15 + key) & 0xFFFFFFFFFFFFFFFF
    h ^= h >> 29
    h = (h * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    return h ^ (h >> 32)


def make_prices(seed: int) -> list[Price]:
    """A small catalog: 8 recurring prices (subscriptions) and 8 one-time prices."""
    recurring = [
        (900, "month"),
        (1900, "month"),
        (2900, "month"),
        (4900, "month"),
        (9900, "month"),
        (19900, "month"),
        (29000, "year"),
        (99000, "year"),
    ]
    one_time = [(a, None) for a in (150, 500, 1200, 2500, 4000, 7500, 15000, 50000)]
    out = []
    for i, (amount, interval) in enumerate(recurring + one_time):
        price_id = f"price_1{tag(seed, 'price', i)}{tag(seed, 'acct')}{tag(seed, 'p', i, width=3)}"
        nickname = f"Plan {i + 1} ({interval}ly)" if interval else f"Add-on {i - 7}"
        out.append(
            Price(price_id, f"prod_O{tag(seed, 'prod', i, width=13)}", amount, interval, nickname)
        )
    return out


def new_data(seed: int, start_ts: int, end_ts: int) -> SandboxData:
    """Empty tables with their columns, ready to be filled."""

    def t(name: str, obj: str, prefix: str) -> Table:
        return Table(name, obj, IdCodec(seed, prefix))

    customers = t("customers", "customer", "cus")
    charges = t("charges", "charge", "ch")
    invoices = t("invoices", "invoice", "in")
    lines = t("invoice_line_items", "line_item", "il")
    subs = t("subscriptions", "subscription", "sub")
    items = t("subscription_items", "subscription_item", "si")
    payouts = t("payouts", "payout", "po")
    txns = t("balance_transactions", "balance_transaction", "txn")
    for name, code in (
        ("amount", "q"),
        ("refunded", "q"),
        ("status", "b"),
        ("customer", "i"),
        ("invoice", "i"),
        ("txn", "i"),
    ):
        charges.col(name, code)
    for name, code in (
        ("customer", "i"),
        ("sub", "i"),
        ("charge", "i"),
        ("status", "b"),
        ("total", "q"),
        ("collection", "b"),
        ("reason", "b"),
    ):
        invoices.col(name, code)
    for name, code in (("parent", "i"), ("price", "b"), ("qty", "b"), ("item", "i")):
        lines.col(name, code)
    for name, code in (
        ("customer", "i"),
        ("status", "b"),
        ("canceled_at", "q"),
        ("latest_invoice", "i"),
        ("collection", "b"),
    ):
        subs.col(name, code)
    for name, code in (("parent", "i"), ("price", "b"), ("qty", "b")):
        items.col(name, code)
    for name, code in (("amount", "q"), ("status", "b"), ("automatic", "b")):
        payouts.col(name, code)
    for name, code in (("charge", "i"), ("amount", "q"), ("payout", "i")):
        txns.col(name, code)
    return SandboxData(
        seed=seed,
        start_ts=start_ts,
        end_ts=end_ts,
        customers=customers,
        charges=charges,
        invoices=invoices,
        lines=lines,
        subscriptions=subs,
        items=items,
        payouts=payouts,
        txns=txns,
        events=EventLog(IdCodec(seed, "evt")),
        invoice_lines=ChildRel(invoices, lines, array("i"), array("i")),
        sub_items=ChildRel(subs, items, array("i"), array("i")),
        payout_txns=ChildRel(payouts, txns, array("i"), array("i"), newest_first=True),
        prices=make_prices(seed),
        account_id=f"acct_1{tag(seed, 'acct')}{tag(seed, 'acct2', width=5)}",
    )


class _Gen:
    """Generator state shared by the per-table passes."""

    def __init__(self, cfg: SandboxConfig) -> None:
        self.cfg = cfg
        self.seed = cfg.seed
        self.scale = cfg.scale
        self.start = cfg.start_ts
        self.end = cfg.end_ts
        self.d = new_data(cfg.seed, self.start, self.end)
        self.days = list(range(self.start, self.end, DAY))

    def rng(self, table: str, day: int) -> random.Random:
        return random.Random(_seed_int(self.seed, table, day))

    def daily_count(self, rng: random.Random, table: str, day: int) -> int:
        if rng.random() < EMPTY_DAY_P:
            return 0
        mean = DAILY[table] * self.scale
        if (day // DAY + 4) % 7 in (5, 6):  # Saturday, Sunday
            mean *= 0.7
        return int(mean * rng.uniform(0.6, 1.4) + rng.random())

    def times(self, rng: random.Random, n: int, day: int) -> list[int]:
        """n sorted seconds within the day; about a quarter repeat the previous second."""
        hi = min(day + DAY, self.end) - 1
        ts = sorted(rng.randint(day, hi) for _ in range(n))
        for i in range(1, n):
            if rng.random() < 0.25:
                ts[i] = ts[i - 1]
        return ts

    def pick_customer(self, rng: random.Random, t: int) -> int:
        k = bisect_right(self.d.customers.created, t)
        if k == 0:
            return 0 if len(self.d.customers) else -1
        return rng.randrange(k)

    # -- passes ---------------------------------------------------------------------------

    def customers(self) -> None:
        created = self.d.customers.created
        for day in self.days:
            rng = self.rng("customers", day)
            created.extend(self.times(rng, self.daily_count(rng, "customers", day), day))
        self.d.customers.deleted = bytearray(len(created))

    def subscriptions(self) -> dict[int, list[tuple[int, int]]]:
        """Subscriptions and their items; returns day -> [(created, sub row)] for invoicing."""
        d = self.d
        s, it = d.subscriptions, d.items
        sc, ic = s.cols, it.cols
        rel = d.sub_items
        weights = (60, 18, 8, 6, 3, 3, 2, 0)
        status_codes = range(len(SUB_STATUS))
        out: dict[int, list[tuple[int, int]]] = {}
        for day in self.days:
            rng = self.rng("subscriptions", day)
            todo = []
            for t in self.times(rng, self.daily_count(rng, "subscriptions", day), day):
                row = len(s.created)
                s.created.append(t)
                sc["customer"].append(self.pick_customer(rng, t))
                status = rng.choices(status_codes, weights)[0]
                sc["status"].append(status)
                canceled = 0
                if status == 1:
                    canceled = min(t + rng.randint(3600, 45 * DAY), max(t, self.end - 1))
                sc["canceled_at"].append(canceled)
                sc["latest_invoice"].append(-1)
                sc["collection"].append(0 if rng.random() < 0.9 else 1)
                r = rng.random()
                n_items = rng.randint(11, 30) if r < 0.08 else rng.choice((1, 1, 1, 2, 2, 3, 4, 5))
                rel.start.append(len(it.created))
                rel.count.append(n_items)
                for _ in range(n_items):
                    it.created.append(t)
                    ic["parent"].append(row)
                    ic["price"].append(rng.randrange(8))
                    ic["qty"].append(1 if rng.random() < 0.7 else rng.randint(2, 20))
                todo.append((t, row))
            out[day] = todo
        s.deleted = bytearray(len(s.created))
        it.deleted = bytearray(len(it.created))
        return out

    def invoices(self, sub_invoices: dict[int, list[tuple[int, int]]]) -> dict[int, list]:
        """Invoices and lines; returns day -> charge specs for paid auto-collected invoices."""
        d = self.d
        inv, ln = d.invoices, d.lines
        vc, lc = inv.cols, ln.cols
        sc = d.subscriptions.cols
        rel, srel = d.invoice_lines, d.sub_items
        icol = d.items.cols
        unit = [p.unit_amount for p in d.prices]
        charge_specs: dict[int, list] = {}
        sub_to_inv_status = {0: 2, 1: 2, 2: 2, 3: 1, 4: 4, 5: 1, 6: 3, 7: 2}
        for day in self.days:
            rng = self.rng("invoices", day)
            specs = [(t, 1, srow) for t, srow in sub_invoices.get(day, [])]
            specs += [
                (t, 0, -1) for t in self.times(rng, self.daily_count(rng, "invoices", day), day)
            ]
            specs.sort(key=lambda x: x[0])
            todo = []
            for t, reason, srow in specs:
                row = len(inv.created)
                inv.created.append(t)
                rel.start.append(len(ln.created))
                total = 0
                if srow >= 0:
                    cust = sc["customer"][srow]
                    status = sub_to_inv_status[sc["status"][srow]]
                    collection = sc["collection"][srow]
                    sc["latest_invoice"][srow] = row
                    for irow in srel.children(srow):
                        price, qty = icol["price"][irow], icol["qty"][irow]
                        ln.created.append(t)
                        lc["parent"].append(row)
                        lc["price"].append(price)
                        lc["qty"].append(qty)
                        lc["item"].append(irow)
                        total += unit[price] * qty
                    n_lines = srel.count[srow]
                else:
                    cust = self.pick_customer(rng, t)
                    status = rng.choices(range(5), (8, 15, 70, 4, 3))[0]
                    collection = 0 if rng.random() < 0.85 else 1
                    r = rng.random()
                    if r < 0.025:
                        n_lines = rng.randint(101, 260)
                    elif r < 0.12:
                        n_lines = rng.randint(11, 40)
                    else:
                        n_lines = rng.choice((1, 1, 1, 2, 2, 3, 4, 6))
                    for _ in range(n_lines):
                        price = 8 + rng.randrange(8)
                        qty = 1 if rng.random() < 0.6 else rng.randint(2, 9)
                        ln.created.append(t)
                        lc["parent"].append(row)
                        lc["price"].append(price)
                        lc["qty"].append(qty)
                        lc["item"].append(-1)
                        total += unit[price] * qty
                rel.count.append(n_lines)
                vc["customer"].append(cust)
                vc["sub"].append(srow)
                vc["charge"].append(-1)
                vc["status"].append(status)
                vc["total"].append(total)
                vc["collection"].append(collection)
                vc["reason"].append(reason)
                if status == 2 and collection == 0 and total > 0:
                    todo.append(
                        (min(t + rng.randint(0, 4), day + DAY - 1, self.end - 1), cust, total, row)
                    )
            charge_specs[day] = todo
        inv.deleted = bytearray(len(inv.created))
        ln.deleted = bytearray(len(ln.created))
        return charge_specs

    def charges(self, invoice_charges: dict[int, list]) -> None:
        d = self.d
        ch, cc = d.charges, d.charges.cols
        icol = d.invoices.cols
        for day in self.days:
            rng = self.rng("charges", day)
            specs = []
            for t in self.times(rng, self.daily_count(rng, "charges", day), day):
                cust = self.pick_customer(rng, t) if rng.random() < 0.75 else -1
                amount = (
                    rng.choice((500, 1000, 1500, 2000, 2500, 4999, 9900, 12000))
                    if rng.random() < 0.6
                    else rng.randint(50, 250000)
                )
                status = rng.choices((0, 1, 2), (92, 6, 2))[0]
                refunded = amount if status == 0 and rng.random() < 0.04 else 0
                specs.append((t, cust, amount, -1, status, refunded))
            specs += [
                (t, cust, total, irow, 0, 0)
                for t, cust, total, irow in invoice_charges.get(day, [])
            ]
            specs.sort(key=lambda x: x[0])
            for t, cust, amount, irow, status, refunded in specs:
                row = len(ch.created)
                ch.created.append(t)
                cc["customer"].append(cust)
                cc["amount"].append(amount)
                cc["invoice"].append(irow)
                cc["status"].append(status)
                cc["refunded"].append(refunded)
                cc["txn"].append(-1)
                if irow >= 0:
                    icol["charge"][irow] = row
        ch.deleted = bytearray(len(ch.created))

    def balance_transactions(self) -> None:
        """One balance transaction per succeeded charge, same ``created``."""
        d = self.d
        cc, tx, tc = d.charges.cols, d.txns, d.txns.cols
        created, status, amount, txn = d.charges.created, cc["status"], cc["amount"], cc["txn"]
        for row in range(len(created)):
            if status[row] == 0:
                txn[row] = len(tx.created)
                tx.created.append(created[row])
                tc["charge"].append(row)
                tc["amount"].append(amount[row])
                tc["payout"].append(-1)
        tx.deleted = bytearray(len(tx.created))

    def payouts(self) -> None:
        """Automatic payouts sweep all unpaid-out transactions; some manual ones have none."""
        d = self.d
        po, pc, rel = d.payouts, d.payouts.cols, d.payout_txns
        tx_created, tx_amount, tx_payout = (
            d.txns.created,
            d.txns.cols["amount"],
            d.txns.cols["payout"],
        )
        ptr, hold_until = 0, 0
        for day in self.days:
            rng = self.rng("payouts", day)
            specs = []
            if day >= hold_until and rng.random() < 0.1:
                hold_until = day + rng.randint(4, 8) * DAY  # payouts paused: a big one follows
            if day >= hold_until and rng.random() < 0.8:
                specs.append((rng.randint(day, min(day + DAY, self.end) - 1), 1))
            if rng.random() < 0.12 * max(self.scale, 0.1):
                specs.append((rng.randint(day, min(day + DAY, self.end) - 1), 0))
            specs.sort()
            for t, automatic in specs:
                start = ptr
                if automatic:
                    while ptr < len(tx_created) and tx_created[ptr] < t:
                        ptr += 1
                    if ptr == start:
                        continue
                row = len(po.created)
                amount = 0
                for i in range(start, ptr):
                    a = tx_amount[i]
                    amount += a - fee_for(a)
                    tx_payout[i] = row
                if not automatic:
                    amount = rng.choice((10000, 25000, 50000, 100000))
                if t > self.end - 2 * DAY:
                    status = 2 if rng.random() < 0.7 else 1
                else:
                    status = 4 if rng.random() < 0.04 else 0
                po.created.append(t)
                pc["amount"].append(amount)
                pc["status"].append(status)
                pc["automatic"].append(automatic)
                rel.start.append(start)
                rel.count.append(ptr - start)
        po.deleted = bytearray(len(po.created))


def fee_for(amount: int) -> int:
    """Stripe's US card fee: 2.9% + 30 cents (never more than the amount)."""
    return min(amount, amount * 29 // 1000 + 30) if amount > 0 else 0


def generate(cfg: SandboxConfig) -> SandboxData:
    """Build the full, deterministic data set for a configuration."""
    g = _Gen(cfg)
    g.customers()
    sub_inv = g.subscriptions()
    inv_charges = g.invoices(sub_inv)
    g.charges(inv_charges)
    g.balance_transactions()
    g.payouts()
    d = g.d
    for table in (d.customers, d.charges, d.invoices, d.subscriptions, d.payouts, d.txns):
        table.finish_keys()
    return d
