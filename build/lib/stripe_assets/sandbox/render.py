"""JSON rendering of rows, a batch (a page) at a time, from precompiled fixture templates.

A template is a fixture object with some values replaced by markers: ``"@@=name@@"`` stands for
a whole JSON value and ``@@name@@`` inside a string for raw string content. ``orjson``
serializes the fixture once and ``Plan`` keeps the constant byte chunks between the markers.

Rendering N rows builds, per slot, the column of its N values (bytes) with C-level operations
only: ``itemgetter(*rows)`` gathers column values, ``map`` over small lookup tables turns
status codes into JSON, ints of all columns are formatted in one ``str.join``, and a
``select`` picks ``null`` or a value. ``Plan.render`` then lays the columns into one list
(``out[slot::stride] = column``) and joins each object's stretch of it: no per-object Python
code, dicts or orjson calls. A parent's embedded child list (invoice lines, subscription
items) is rendered as ``EMBED_MARK``: the table splits the render there and joins its
children's renders in at serving time (``store.Table``).
"""

from __future__ import annotations

import copy
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, repeat
from operator import add, floordiv, ge, getitem, gt, itemgetter, lt, mod, mul, or_, sub
from typing import Any

import orjson

from .data import (
    BILLING_REASON,
    COLLECTION,
    DAY,
    INVOICE_STATUS,
    PAYOUT_STATUS,
    SUB_STATUS,
    SandboxData,
    mix,
)
from .fixtures import FIXTURES
from .store import EMBEDDED_LIMIT

_MARK = re.compile(rb'"@@=(\w+)@@"|@@(\w+)@@')
NULL = b"null"
TRUE = b"true"
FALSE = b"false"
BOOL = (FALSE, TRUE)
EMBED_MARK = b"\0"
"""Where an embedded list's data goes in a parent's render (never in JSON output)."""

FIRST = (
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Sophie",
    "John",
    "Katherine",
    "Guido",
    "Hedy",
    "Donald",
    "Annie",
    "Niklaus",
    "Joan",
    "Bjarne",
    "Mary",
    "James",
    "Lynn",
    "Robin",
    "Carol",
    "Leslie",
)
LAST = (
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Wilson",
    "McCarthy",
    "Johnson",
    "Rossum",
    "Lamarr",
    "Knuth",
    "Easley",
    "Wirth",
    "Clarke",
    "Stroustrup",
    "Shaw",
    "Gosling",
    "Conway",
)
BRANDS = (
    ("visa", "4242"),
    ("mastercard", "4444"),
    ("amex", "8431"),
    ("visa", "1881"),
    ("discover", "1117"),
)
DESCRIPTIONS = ("Order", "Invoice payment", "Top-up", "Consulting", "Hardware", "Subscription")
DESCRIPTIONS_B = tuple(orjson.dumps(x) for x in DESCRIPTIONS)
CANCELLATION_B = tuple(
    orjson.dumps({"comment": None, "feedback": None, "reason": r})
    for r in (None, "cancellation_requested")
)
NAMES_B = tuple(orjson.dumps(f"{f} {last}") for f in FIRST for last in LAST)
EMAIL_FMTS = tuple(
    b'"' + f"{f}.{last}.".lower().encode() + b'%d@example.com"' for f in FIRST for last in LAST
)
GUEST_NAME = orjson.dumps("Guest")
GUEST_EMAIL = orjson.dumps("guest@example.com")
FEE_DETAILS = (
    b'[{"amount":%d,"application":null,"currency":"usd",'
    b'"description":"Stripe processing fees","type":"stripe_fee"}]'
)


def name_index(h: int) -> int:
    """Index into ``NAMES_B``/``EMAIL_FMTS`` for a customer's ``mix`` hash."""
    return (h % len(FIRST)) * len(LAST) + (h >> 8) % len(LAST)


# -- batch helpers --------------------------------------------------------------------------


def gather(rows: Sequence[int]) -> Callable[[Sequence[Any]], Sequence[Any]]:
    """``g(column)`` -> the column's values at ``rows`` (a tuple, gathered in C)."""
    if len(rows) == 1:
        r = rows[0]
        return lambda col: (col[r],)
    if not rows:
        return lambda col: ()
    return itemgetter(*rows)


def ints(*cols: Iterable[int]) -> list[list[bytes]]:
    """Each column of ints as a list of decimal bytes (orjson formats them all at once)."""
    cols_ = [c if isinstance(c, (list, tuple)) else list(c) for c in cols]
    flat = list(chain.from_iterable(cols_))
    parts = orjson.dumps(flat)[1:-1].split(b",") if flat else []
    out, i = [], 0
    for c in cols_:
        out.append(parts[i : i + len(c)])
        i += len(c)
    return out


def pick(table: Sequence[bytes], codes: Iterable[int]) -> Sequence[bytes]:
    """``table[code]`` for each code (a status code, a row with -1 for null, ...)."""
    return gather(codes if isinstance(codes, tuple) else tuple(codes))(table)


def select(
    flags: Iterable[Any], if_false: Iterable[bytes], if_true: Iterable[bytes]
) -> Iterator[bytes]:
    """Per row, ``if_true`` where the flag is truthy (a bool or 0/1), else ``if_false``."""
    return map(getitem, zip(if_false, if_true, strict=False), map(bool, flags))


class Plan:
    """A fixture split at its markers: constant chunks around ``len(names)`` slots.

    ``order``, when given, is the slot sequence the renderer passes columns in; a fixture
    whose serialized slot order differs raises at build time.
    """

    __slots__ = ("consts", "names", "stride")

    def __init__(self, obj: dict[str, Any], order: Sequence[str] | None = None) -> None:
        raw = orjson.dumps(obj)
        consts: list[bytes | None] = []
        names: list[str] = []
        pos = 0
        for m in _MARK.finditer(raw):
            consts += [raw[pos : m.start()], None]
            names.append((m.group(1) or m.group(2)).decode())
            pos = m.end()
        consts.append(raw[pos:])
        self.consts = consts
        self.stride = len(consts)
        self.names = tuple(names)
        if order is not None and self.names != tuple(order):
            raise AssertionError(f"template slots {self.names} != renderer order {tuple(order)}")

    def fuse(self, first: int, last: int, name: str) -> Callable[..., bytes]:
        """Make slots ``first..last`` one slot ``name`` (for values that come from one small
        table); returns ``f(*old_values) -> new value`` to build that table with."""
        inner = self.consts[2 * first + 2 : 2 * last + 1 : 2]
        self.consts[2 * first + 1 : 2 * last + 2] = [None]
        self.stride = len(self.consts)
        self.names = (*self.names[:first], name, *self.names[last + 1 :])

        def value(*vals: bytes) -> bytes:
            out = [vals[0]]
            for c, v in zip(inner, vals[1:], strict=True):
                out += [c, v]
            return b"".join(out)  # type: ignore[arg-type]

        return value

    def render(self, n: int, cols: Sequence[Iterable[bytes]]) -> list[bytes]:
        """``n`` objects; ``cols[i]`` holds the n values of slot i (JSON or raw bytes)."""
        if not n:
            return []
        stride = self.stride
        out = self.consts * n
        for i, col in enumerate(cols):
            out[2 * i + 1 :: stride] = col
        return list(map(b"".join, zip(*[iter(out)] * stride, strict=False)))

    def render_named(self, n: int, cols: dict[str, Any]) -> list[bytes]:
        """``render`` with the columns given by slot name."""
        return self.render(n, [cols[name] for name in self.names])


def by_shape(
    rows: Sequence[int], shapes: Sequence[int], render: Callable[[Sequence[int], int], list[bytes]]
) -> list[bytes]:
    """``render(rows_of_one_shape, shape)`` per distinct shape, results in ``rows`` order."""
    first = shapes[0]
    if shapes.count(first) == len(shapes):
        return render(rows, first)
    groups: dict[int, list[int]] = {}
    for i, shape in enumerate(shapes):
        groups.setdefault(shape, []).append(i)
    out: list[bytes] = [b""] * len(rows)
    for shape, idx in groups.items():
        for i, b in zip(idx, render([rows[i] for i in idx], shape), strict=True):
            out[i] = b
    return out


def list_bytes(
    url: str | bytes, parts: list[bytes], has_more: bool, total: int | None = None
) -> bytes:
    """A Stripe list object: data, has_more, object, url (and total_count when given).

    ``parts`` are pieces whose concatenation is the data's comma-separated objects
    (``Table.page_parts``, ``commas``); the list takes ownership of them and joins the page
    in one copy.
    """
    tail = (
        b'],"has_more":true,"object":"list"' if has_more else b'],"has_more":false,"object":"list"'
    )
    if total is not None:
        tail += b',"total_count":%d' % total
    if isinstance(url, str):
        url = url.encode()
    parts.insert(0, b'{"data":[')
    parts.append(tail + b',"url":"' + url + b'"}')
    return b"".join(parts)


def commas(items: Sequence[bytes]) -> list[bytes]:
    """``items`` with ``b","`` between them (``list_bytes`` parts)."""
    if not items:
        return []
    out = [b","] * (2 * len(items) - 1)
    out[::2] = items
    return out


def embedded_marks(counts: Sequence[int]) -> tuple[list[bytes], list[bytes], list[int]]:
    """Per parent with ``counts`` children: the embed marker (the table composes the data),
    ``has_more`` and the total count of its embedded list."""
    more = list(pick(BOOL, map(gt, counts, repeat(EMBEDDED_LIMIT))))
    return [EMBED_MARK] * len(counts), more, list(counts)


def _fixture(name: str) -> dict[str, Any]:
    return copy.deepcopy(FIXTURES[name])


def _mark(name: str) -> str:
    return f"@@={name}@@"


class Renderer:
    """Builds the per-table batch renderers for a ``SandboxData`` and installs them.

    Expects every table's ``ids`` to be filled (``Table.sync_ids``) before rows are rendered.
    Per-row cosmetic values derived from hashes (names, card brands, ...) are computed once
    per row into small columns (``sync_*``), extended when rows are added.
    """

    def __init__(self, d: SandboxData) -> None:
        self.d = d
        self.k = mix(d.seed, 7)
        self.prices = [orjson.dumps(self._price(i)) for i in range(len(d.prices))]
        self.account = self._account()
        self.bank = f"1{mix(self.k, 99):022d}"[:24]
        # per customer (then a guest entry last, so index -1 is the guest)
        self.cust_name: list[bytes] = [GUEST_NAME]
        self.cust_email: list[bytes] = [GUEST_EMAIL]
        self.cust_prefix: list[bytes] = [b"%07X" % (mix(self.k, -1) & 0xFFFFFFF)]
        self.cust_seq: list[bytes] = []
        # per charge: indexes into BRANDS / DESCRIPTIONS / years, and the card's hash bits
        self.ch_brand = bytearray()
        self.ch_desc = bytearray()
        self.ch_year = bytearray()
        self.ch_pm: list[bytes] = []
        # per line item: price * 256 + quantity + 128
        self.line_pq = array("H")
        self.sync()
        self.customer = self._customer()
        self.charge = self._charge()
        self.line = self._line()
        self.item = self._item()
        self.invoice = self._invoice()
        self.subscription = self._subscription()
        self.payout = self._payout()
        self.txn = self._txn()
        d.customers.render_rows = self.customer
        d.charges.render_rows = self.charge
        d.invoices.render_rows = self.invoice
        d.invoices.embed = d.invoice_lines
        d.lines.render_rows = self.line
        d.subscriptions.render_rows = self.subscription
        d.subscriptions.embed = d.sub_items
        d.items.render_rows = self.item
        d.payouts.render_rows = self.payout
        d.txns.render_rows = self.txn

    # -- fixed objects ------------------------------------------------------------------------

    def _price(self, i: int) -> dict[str, Any]:
        p = self.d.prices[i]
        obj = copy.deepcopy(FIXTURES["line_item"]["price"])
        obj.update(
            id=p.id,
            product=p.product,
            unit_amount=p.unit_amount,
            unit_amount_decimal=str(p.unit_amount),
            nickname=p.nickname,
            created=self.d.start_ts - 90 * DAY,
        )
        if p.interval:
            obj["type"] = "recurring"
            obj["recurring"] = {
                "aggregate_usage": None,
                "interval": p.interval,
                "interval_count": 1,
                "usage_type": "licensed",
            }
        return obj

    def _account(self) -> bytes:
        a = _fixture("account")
        aid = self.d.account_id
        a.update(
            id=aid,
            created=self.d.start_ts - 365 * DAY,
            email="sandbox@example.com",
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
        )
        a["business_profile"]["name"] = "Stripe Sandbox"
        a["settings"]["dashboard"]["display_name"] = "Stripe Sandbox"
        a["external_accounts"]["url"] = f"/v1/accounts/{aid}/external_accounts"
        a["requirements"]["currently_due"] = []
        a["requirements"]["eventually_due"] = []
        a["requirements"]["disabled_reason"] = None
        return orjson.dumps(a)

    # -- per-row cosmetic columns -------------------------------------------------------------

    def sync(self) -> None:
        """Compute the cosmetic columns of customers and charges added since the last call."""
        k = self.k
        have, n = len(self.cust_seq), len(self.d.customers)
        if have < n:
            hs = [mix(k, row) for row in range(have, n)]
            nis = [name_index(h) for h in hs]
            seqs = [b"%d" % (1 + (h >> 40) % 20) for h in hs]
            self.cust_seq += seqs
            self.cust_name[-1:] = [*pick(NAMES_B, nis), GUEST_NAME]
            self.cust_email[-1:] = [
                *(EMAIL_FMTS[ni] % row for ni, row in zip(nis, range(have, n), strict=True)),
                GUEST_EMAIL,
            ]
            guest = self.cust_prefix[-1]
            self.cust_prefix[-1:] = [*(b"%07X" % (h & 0xFFFFFFF) for h in hs), guest]
        k55 = k ^ 0x55
        have, n = len(self.ch_pm), len(self.d.charges)
        if have < n:
            hs = [mix(k55, row) for row in range(have, n)]
            self.ch_brand += bytes(h % len(BRANDS) for h in hs)
            self.ch_desc += bytes((h >> 8) % len(DESCRIPTIONS) for h in hs)
            self.ch_year += bytes((h >> 16) % 6 for h in hs)
            self.ch_pm += [b"%016X" % (h & 0xFFFFFFFFFFFF) for h in hs]
        lines = self.d.lines
        have, n = len(self.line_pq), len(lines)
        if have < n:
            price, qty = lines.cols["price"], lines.cols["qty"]
            self.line_pq.extend(
                map(add, map(mul, price[have:n], repeat(256)), map(add, qty[have:n], repeat(128)))
            )

    # -- row renderers ------------------------------------------------------------------------

    def _customer(self) -> Callable[[Sequence[int]], list[bytes]]:
        c = _fixture("customer")
        c.update(
            id="@@id@@",
            created=_mark("created"),
            email=_mark("email"),
            name=_mark("name"),
            invoice_prefix="@@prefix@@",
            description=None,
            next_invoice_sequence=_mark("seq"),
            address=None,
        )
        plan = Plan(c, ("created", "email", "id", "prefix", "name", "seq"))
        t = self.d.customers
        created, ids = t.created, t.ids
        names, emails, prefixes, seqs = (
            self.cust_name,
            self.cust_email,
            self.cust_prefix,
            self.cust_seq,
        )
        sync = self.sync

        def customers(rows: Sequence[int]) -> list[bytes]:
            sync()
            g = gather(rows)
            (cr,) = ints(g(created))
            return plan.render(len(rows), (cr, g(emails), g(ids), g(prefixes), g(names), g(seqs)))

        return customers

    def _charge(self) -> Callable[[Sequence[int]], list[bytes]]:
        ch = _fixture("charge")
        ch.update(
            id="@@id@@",
            created=_mark("created"),
            amount=_mark("amount"),
            amount_captured=_mark("captured_amount"),
            amount_refunded=_mark("refunded"),
            refunded=_mark("is_refunded"),
            captured=_mark("captured"),
            paid=_mark("paid"),
            status="@@status@@",
            failure_code=_mark("failure_code"),
            failure_message=_mark("failure_message"),
            customer=_mark("customer"),
            invoice=_mark("invoice"),
            balance_transaction=_mark("txn"),
            description=_mark("description"),
            payment_method="card_1@@pm@@",
            calculated_statement_descriptor="SANDBOX",
            receipt_url="https://pay.stripe.com/receipts/payment/@@id@@",
        )
        ch["billing_details"]["name"] = _mark("name")
        card = ch["payment_method_details"]["card"]
        card.update(
            brand="@@brand@@", last4="@@last4@@", exp_year=_mark("exp_year"), network="@@brand@@"
        )
        ch["refunds"]["url"] = "/v1/charges/@@id@@/refunds"
        plan = Plan(
            ch,
            (
                "amount",
                "captured_amount",
                "refunded",
                "txn",
                "name",
                "captured",
                "created",
                "customer",
                "description",
                "failure_code",
                "failure_message",
                "id",
                "invoice",
                "paid",
                "pm",
                "brand",
                "exp_year",
                "last4",
                "brand",
                "id",
                "is_refunded",
                "id",
                "status",
            ),
        )
        d = self.d
        t = d.charges
        created, ids, cols = t.created, t.ids, t.cols
        status_c, amount_c, refunded_c = cols["status"], cols["amount"], cols["refunded"]
        customer_c, invoice_c, txn_c = cols["customer"], cols["invoice"], cols["txn"]
        cus_q, inv_q, txn_q = (
            d.customers.quoted_ids(),
            d.invoices.quoted_ids(),
            d.txns.quoted_ids(),
        )
        names = self.cust_name
        sync = self.sync
        brand_c, desc_c, year_c, pm_c = self.ch_brand, self.ch_desc, self.ch_year, self.ch_pm
        brands = tuple(b.encode() for b, _ in BRANDS)
        last4s = tuple(n.encode() for _, n in BRANDS)
        years = tuple(b"%d" % y for y in range(2026, 2032))
        ok = (1, 0, 0)
        captured_b = (TRUE, FALSE, FALSE)
        fcode_b = (NULL, b'"card_declined"', NULL)
        fmsg_b = (NULL, b'"Your card was declined."', NULL)
        status_b = (b"succeeded", b"failed", b"pending")

        def charges(rows: Sequence[int]) -> list[bytes]:
            sync()
            g = gather(rows)
            st, amount, refunded, crow = g(status_c), g(amount_c), g(refunded_c), g(customer_c)
            cid, bi = g(ids), g(brand_c)
            brand = tuple(pick(brands, bi))
            captured = tuple(pick(captured_b, st))
            am, cap, ref, cr = ints(amount, map(mul, amount, pick(ok, st)), refunded, g(created))
            # refunded in full: refunded > 0 and refunded >= amount
            full = pick(BOOL, map(ge, refunded, map(max, amount, repeat(1))))
            return plan.render(
                len(rows),
                (
                    am,
                    cap,
                    ref,
                    pick(txn_q, g(txn_c)),
                    pick(names, crow),
                    captured,
                    cr,
                    pick(cus_q, crow),
                    pick(DESCRIPTIONS_B, g(desc_c)),
                    pick(fcode_b, st),
                    pick(fmsg_b, st),
                    cid,
                    pick(inv_q, g(invoice_c)),
                    captured,
                    g(pm_c),
                    brand,
                    pick(years, g(year_c)),
                    pick(last4s, bi),
                    brand,
                    cid,
                    full,
                    cid,
                    pick(status_b, st),
                ),
            )

        return charges

    def _line(self) -> Callable[[Sequence[int]], list[bytes]]:
        d = self.d
        li = _fixture("line_item")
        li.update(
            id="@@id@@",
            invoice="@@invoice@@",
            amount=_mark("amount"),
            amount_excluding_tax=_mark("amount"),
            description=_mark("description"),
            period={"end": _mark("end"), "start": _mark("start")},
            price=_mark("price"),
            quantity=_mark("qty"),
            subscription=_mark("subscription"),
            subscription_item=_mark("item"),
            type="invoiceitem",
            invoice_item="ii_@@ii@@",
            unit_amount_excluding_tax="@@unit@@",
        )
        sub_li = dict(li, type="subscription")
        del li["subscription_item"]
        del sub_li["invoice_item"]
        plans = {
            0: Plan(
                li,
                (
                    "amount",
                    "amount",
                    "description",
                    "id",
                    "ii",
                    "end",
                    "start",
                    "price",
                    "qty",
                    "subscription",
                    "unit",
                    "invoice",
                ),
            ),
            1: Plan(
                sub_li,
                (
                    "amount",
                    "amount",
                    "description",
                    "id",
                    "end",
                    "start",
                    "price",
                    "qty",
                    "subscription",
                    "unit",
                    "invoice",
                    "item",
                ),
            ),
        }
        # slots that only depend on (price, qty) become one slot each, from a table indexed by
        # the line's ``pq`` = price * 256 + qty + 128 (qty is a signed byte)
        keys = [(p, q) for p in range(len(d.prices)) for q in range(-128, 128)]
        head, mid = {}, {}
        for shape, plan in plans.items():
            at = plan.names.index("price")
            f_mid = plan.fuse(at, at + 1, "price_qty")
            f_head = plan.fuse(0, 2, "head")
            head[shape] = [
                f_head(
                    b"%d" % (d.prices[p].unit_amount * q),
                    b"%d" % (d.prices[p].unit_amount * q),
                    orjson.dumps(f"{q} \u00d7 {d.prices[p].nickname}"),
                )
                for p, q in keys
            ]
            mid[shape] = [f_mid(self.prices[p], b"%d" % q) for p, q in keys]
        t = d.lines
        ids, item_c = t.ids, t.cols["item"]
        parent_c, price_c = t.cols["parent"], t.cols["price"]
        pq_c = self.line_pq
        sync = self.sync
        inv_created, inv_sub, inv_ids = d.invoices.created, d.invoices.cols["sub"], d.invoices.ids
        sub_q, item_q = d.subscriptions.quoted_ids(), d.items.quoted_ids()
        units_b = [b"%d" % p.unit_amount for p in d.prices]
        period = [(365 if p.interval == "year" else 30) * DAY for p in d.prices]

        def batch(rows: Sequence[int], shape: int) -> list[bytes]:
            g = gather(rows)
            pq, lid = g(pq_c), g(ids)
            gi = gather(g(parent_c))
            created = gi(inv_created)
            cols = {
                "head": pick(head[shape], pq),
                "price_qty": pick(mid[shape], pq),
                "id": lid,
                "subscription": pick(sub_q, gi(inv_sub)),
                "unit": pick(units_b, g(price_c)),
                "invoice": gi(inv_ids),
            }
            if shape:
                end, start = ints(map(add, created, pick(period, g(price_c))), created)
                cols.update(end=end, start=start, item=pick(item_q, g(item_c)))
            else:
                (start,) = ints(created)
                cols.update(end=start, start=start, ii=[x[3:] for x in lid])
            return plans[shape].render_named(len(rows), cols)

        def lines(rows: Sequence[int]) -> list[bytes]:
            if not rows:
                return []
            sync()
            return by_shape(rows, list(map(ge, gather(rows)(item_c), repeat(0))), batch)

        return lines

    def _invoice(self) -> Callable[[Sequence[int]], list[bytes]]:
        d = self.d
        acct = d.account_id
        paid_status, void_status, uncollectible = 2, 3, 4

        def plan(status: int, send: int) -> Plan:
            """The invoice template for one (status, collection method): what only depends
            on those is constant."""
            final, paid = status != 0, status == paid_status
            idle = not final or send
            inv = _fixture("invoice")
            inv.update(
                id="@@id@@",
                created=_mark("created"),
                customer=_mark("customer"),
                customer_email=_mark("email"),
                customer_name=_mark("name"),
                subscription=_mark("subscription"),
                charge=_mark("charge"),
                amount_due=_mark("total"),
                amount_paid=_mark("total") if paid else 0,
                amount_remaining=0 if status in (paid_status, void_status) else _mark("total"),
                subtotal=_mark("total"),
                subtotal_excluding_tax=_mark("total"),
                total=_mark("total"),
                total_excluding_tax=_mark("total"),
                status=INVOICE_STATUS[status],
                paid=paid,
                number="@@number@@-@@seq@@" if final else None,
                period_start=_mark("created"),
                period_end=_mark("created"),
                due_date=_mark("due_date") if send else None,
                effective_at=_mark("created") if final else None,
                next_payment_attempt=None,
                webhooks_delivered_at=_mark("created"),
                hosted_invoice_url=f"https://invoice.stripe.com/i/{acct}/@@id@@" if final else None,
                invoice_pdf=f"https://pay.stripe.com/invoice/{acct}/@@id@@/pdf" if final else None,
                billing_reason="@@reason@@",
                collection_method=COLLECTION[send],
                attempted=not idle,
                attempt_count=0 if idle else 1,
                auto_advance=status < paid_status,
                ending_balance=0 if final else None,
                status_transitions={
                    "finalized_at": _mark("created") if final else None,
                    "marked_uncollectible_at": _mark("uncollectible")
                    if status == uncollectible
                    else None,
                    "paid_at": _mark("created") if paid else None,
                    "voided_at": _mark("voided") if status == void_status else None,
                },
                lines={
                    "data": [_mark("lines")],
                    "has_more": _mark("lines_more"),
                    "object": "list",
                    "total_count": _mark("lines_total"),
                    "url": "/v1/invoices/@@id@@/lines",
                },
            )
            return Plan(inv)

        plans = {
            status * 2 + send: plan(status, send)
            for status in range(len(INVOICE_STATUS))
            for send in (0, 1)
        }
        t = d.invoices
        created_c, ids, cols = t.created, t.ids, t.cols
        status_c, total_c, customer_c = cols["status"], cols["total"], cols["customer"]
        coll_c, reason_c, sub_c, charge_c = (
            cols["collection"],
            cols["reason"],
            cols["sub"],
            cols["charge"],
        )
        cus_q, sub_q, ch_q = (
            d.customers.quoted_ids(),
            d.subscriptions.quoted_ids(),
            d.charges.quoted_ids(),
        )
        names, emails, prefixes = self.cust_name, self.cust_email, self.cust_prefix
        sync = self.sync
        lcount = d.invoice_lines.count
        reasons = tuple(x.encode() for x in BILLING_REASON)
        seqs = [b"%04d" % (i + 1) for i in range(10000)]

        def batch(rows: Sequence[int], shape: int) -> list[bytes]:
            status, send = divmod(shape, 2)
            g = gather(rows)
            created, crow = g(created_c), g(customer_c)
            extra: list[Iterable[int]] = []
            if send:
                extra.append(map(add, created, repeat(30 * DAY)))
            if status == void_status:
                extra.append(map(add, created, repeat(DAY)))
            elif status == uncollectible:
                extra.append(map(add, created, repeat(3 * DAY)))
            ldata, lmore, ltotal = embedded_marks(g(lcount))
            tb, cr, ltotal_b, *more = ints(g(total_c), created, ltotal, *extra)
            cols = {
                "total": tb,
                "created": cr,
                "customer": pick(cus_q, crow),
                "email": pick(emails, crow),
                "name": pick(names, crow),
                "id": g(ids),
                "subscription": pick(sub_q, g(sub_c)),
                "charge": pick(ch_q, g(charge_c)),
                "reason": pick(reasons, g(reason_c)),
                "lines": ldata,
                "lines_more": lmore,
                "lines_total": ltotal_b,
            }
            if send:
                cols["due_date"] = more.pop(0)
            if status == void_status:
                cols["voided"] = more.pop(0)
            elif status == uncollectible:
                cols["uncollectible"] = more.pop(0)
            if status:
                cols["number"] = pick(prefixes, crow)
                cols["seq"] = pick(seqs, map(mod, rows, repeat(10000)))
            return plans[shape].render_named(len(rows), cols)

        def invoices(rows: Sequence[int]) -> list[bytes]:
            sync()
            g = gather(rows)
            return by_shape(
                rows, list(map(add, map(mul, g(status_c), repeat(2)), g(coll_c))), batch
            )

        return invoices

    def _item(self) -> Callable[[Sequence[int]], list[bytes]]:
        d = self.d
        si = _fixture("subscription_item")
        si.update(
            id="@@id@@",
            created=_mark("created"),
            subscription="@@subscription@@",
            price=_mark("price"),
            quantity=_mark("qty"),
        )
        plan = Plan(si, ("created", "id", "price", "qty", "subscription"))
        t = d.items
        created, ids = t.created, t.ids
        parent_c, price_c, qty_c = t.cols["parent"], t.cols["price"], t.cols["qty"]
        sub_ids = d.subscriptions.ids
        prices = self.prices

        def items(rows: Sequence[int]) -> list[bytes]:
            g = gather(rows)
            cr, qty = ints(g(created), g(qty_c))
            return plan.render(
                len(rows), (cr, g(ids), pick(prices, g(price_c)), qty, gather(g(parent_c))(sub_ids))
            )

        return items

    def _subscription(self) -> Callable[[Sequence[int]], list[bytes]]:
        d = self.d
        tpl = _fixture("subscription")
        tpl.update(
            id="@@id@@",
            created=_mark("created"),
            customer="@@customer@@",
            status="@@status@@",
            billing_cycle_anchor=_mark("created"),
            cancel_at=None,
            canceled_at=_mark("canceled_at"),
            ended_at=_mark("canceled_at"),
            current_period_start=_mark("period_start"),
            current_period_end=_mark("period_end"),
            start_date=_mark("created"),
            latest_invoice=_mark("latest_invoice"),
            trial_start=_mark("trial_start"),
            trial_end=_mark("trial_end"),
            next_pending_invoice_item_invoice=None,
            collection_method="@@collection@@",
            days_until_due=_mark("days_until_due"),
            items={
                "data": [_mark("items")],
                "has_more": _mark("items_more"),
                "object": "list",
                "total_count": _mark("items_total"),
                "url": "/v1/subscription_items?subscription=@@id@@",
            },
        )
        tpl["cancellation_details"] = _mark("cancellation")
        plan = Plan(
            tpl,
            (
                "created",
                "canceled_at",
                "cancellation",
                "collection",
                "created",
                "period_end",
                "period_start",
                "customer",
                "days_until_due",
                "canceled_at",
                "id",
                "items",
                "items_more",
                "items_total",
                "id",
                "latest_invoice",
                "created",
                "status",
                "trial_end",
                "trial_start",
            ),
        )
        t = d.subscriptions
        created_c, ids, cols = t.created, t.ids, t.cols
        customer_c, status_c, canceled_c = cols["customer"], cols["status"], cols["canceled_at"]
        latest_c, coll_c = cols["latest_invoice"], cols["collection"]
        cus_ids = d.customers.ids
        inv_q = d.invoices.quoted_ids()
        icount = d.sub_items.count
        statuses = tuple(x.encode() for x in SUB_STATUS)
        collections = tuple(x.encode() for x in COLLECTION)
        trialing = tuple(s == "trialing" for s in SUB_STATUS)
        end_ts = d.end_ts
        # yearly plans are rare; a 30-day period is close enough for every subscription
        period = 30 * DAY

        def subscriptions(rows: Sequence[int]) -> list[bytes]:
            n = len(rows)
            g = gather(rows)
            created, st, canceled, send = g(created_c), g(status_c), g(canceled_c), g(coll_c)
            sid = g(ids)
            crow = list(map(max, g(customer_c), repeat(0)))
            was_canceled = list(map(bool, canceled))
            anchor = select(was_canceled, repeat(end_ts), canceled)
            periods = map(max, map(floordiv, map(sub, anchor, created), repeat(period)), repeat(0))
            start = list(map(add, created, map(mul, periods, repeat(period))))
            cr, canceled_b, start_b, end_b, trial_end = ints(
                created,
                canceled,
                start,
                map(add, start, repeat(period)),
                map(add, created, repeat(14 * DAY)),
            )
            nulls = repeat(NULL)
            canceled_at = list(select(was_canceled, nulls, canceled_b))
            trial = list(pick(trialing, st))
            idata, imore, itotal = embedded_marks(g(icount))
            (itotal_b,) = ints(itotal)
            return plan.render(
                n,
                (
                    cr,
                    canceled_at,
                    pick(CANCELLATION_B, was_canceled),
                    pick(collections, send),
                    cr,
                    end_b,
                    start_b,
                    gather(crow)(cus_ids),
                    select(send, nulls, repeat(b"30")),
                    canceled_at,
                    sid,
                    idata,
                    imore,
                    itotal_b,
                    sid,
                    pick(inv_q, g(latest_c)),
                    cr,
                    pick(statuses, st),
                    select(trial, nulls, trial_end),
                    select(trial, nulls, cr),
                ),
            )

        return subscriptions

    def _payout(self) -> Callable[[Sequence[int]], list[bytes]]:
        d = self.d
        po = _fixture("payout")
        po.update(
            id="@@id@@",
            created=_mark("created"),
            amount=_mark("amount"),
            arrival_date=_mark("arrival"),
            automatic=_mark("automatic"),
            status="@@status@@",
            balance_transaction=None,
            failure_code=_mark("failure_code"),
            failure_message=_mark("failure_message"),
            reconciliation_status="@@recon@@",
            destination="ba_" + self.bank,
        )
        plan = Plan(
            po,
            (
                "amount",
                "arrival",
                "automatic",
                "created",
                "failure_code",
                "failure_message",
                "id",
                "recon",
                "status",
            ),
        )
        t = d.payouts
        created_c, ids = t.created, t.ids
        amount_c, status_c, auto_c = t.cols["amount"], t.cols["status"], t.cols["automatic"]
        failed = tuple(s == "failed" for s in PAYOUT_STATUS)
        fcode = (NULL, b'"account_closed"')
        fmsg = (NULL, b'"The bank account has been closed."')
        recon = tuple(
            b"completed" if s == 0 else b"in_progress" if s < 3 else b"not_applicable"
            for s in range(len(PAYOUT_STATUS))
        )
        statuses = tuple(x.encode() for x in PAYOUT_STATUS)

        def payouts(rows: Sequence[int]) -> list[bytes]:
            g = gather(rows)
            created, st = g(created_c), g(status_c)
            fail = tuple(pick(failed, st))
            am, arrival, cr = ints(
                g(amount_c),
                map(add, map(sub, created, map(mod, created, repeat(DAY))), repeat(2 * DAY)),
                created,
            )
            return plan.render(
                len(rows),
                (
                    am,
                    arrival,
                    pick(BOOL, map(bool, g(auto_c))),
                    cr,
                    pick(fcode, fail),
                    pick(fmsg, fail),
                    g(ids),
                    pick(recon, st),
                    pick(statuses, st),
                ),
            )

        return payouts

    def _txn(self) -> Callable[[Sequence[int]], list[bytes]]:
        d = self.d
        tx = _fixture("balance_transaction")
        tx.update(
            id="@@id@@",
            created=_mark("created"),
            amount=_mark("amount"),
            available_on=_mark("available_on"),
            fee=_mark("fee"),
            net=_mark("net"),
            fee_details=_mark("fee_details"),
            source="@@source@@",
            description=_mark("description"),
            status="@@status@@",
        )
        plan = Plan(
            tx,
            (
                "amount",
                "available_on",
                "created",
                "description",
                "fee",
                "fee_details",
                "id",
                "net",
                "source",
                "status",
            ),
        )
        t = d.txns
        created_c, ids = t.created, t.ids
        charge_c, amount_c, payout_c = t.cols["charge"], t.cols["amount"], t.cols["payout"]
        ch_ids = d.charges.ids
        ch_desc = self.ch_desc
        sync = self.sync
        pending_from = d.end_ts - 2 * DAY
        status_b = (b"pending", b"available")

        def txns(rows: Sequence[int]) -> list[bytes]:
            sync()
            g = gather(rows)
            created, amount, charge = g(created_c), g(amount_c), g(charge_c)
            # fee_for: 2.9% + 30 cents, never more than the amount, 0 for amount <= 0
            fee = list(
                map(
                    max,
                    map(
                        min,
                        amount,
                        map(
                            add,
                            map(floordiv, map(mul, amount, repeat(29)), repeat(1000)),
                            repeat(30),
                        ),
                    ),
                    repeat(0),
                )
            )
            am, avail, cr, fee_b, net = ints(
                amount,
                map(add, map(sub, created, map(mod, created, repeat(DAY))), repeat(2 * DAY)),
                created,
                fee,
                map(sub, amount, fee),
            )
            gc = gather(charge)
            return plan.render(
                len(rows),
                (
                    am,
                    avail,
                    cr,
                    pick(DESCRIPTIONS_B, gc(ch_desc)),
                    fee_b,
                    select(fee, repeat(b"[]"), map(FEE_DETAILS.__mod__, fee)),
                    g(ids),
                    net,
                    gc(ch_ids),
                    pick(
                        status_b,
                        map(
                            or_,
                            map(ge, g(payout_c), repeat(0)),
                            map(lt, created, repeat(pending_from)),
                        ),
                    ),
                ),
            )

        return txns
