"""JSON rendering of rows from pre-split fixture templates (bytes joins, no per-object dicts).

A template is a fixture object with some values replaced by markers: ``"@@=name@@"`` stands for
a whole JSON value (the renderer supplies JSON bytes) and ``@@name@@`` inside a string for raw
string content. ``orjson`` serializes the fixture once; rendering is a ``b"".join``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import orjson

from .data import (
    BILLING_REASON,
    CHARGE_STATUS,
    COLLECTION,
    DAY,
    INVOICE_STATUS,
    PAYOUT_STATUS,
    SUB_STATUS,
    SandboxData,
    fee_for,
    mix,
)
from .fixtures import FIXTURES

_MARK = re.compile(rb'"@@=(\w+)@@"|@@(\w+)@@')
NULL = b"null"
TRUE = b"true"
FALSE = b"false"
EMBEDDED_LIMIT = 10

FIRST = ("Ada", "Alan", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances",
         "Edsger", "Radia", "Tim", "Sophie", "John", "Katherine", "Guido", "Hedy", "Donald",
         "Annie", "Niklaus", "Joan", "Bjarne", "Mary", "James", "Lynn", "Robin", "Carol", "Leslie")
LAST = ("Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie",
        "Allen", "Dijkstra", "Perlman", "Berners-Lee", "Wilson", "McCarthy", "Johnson", "Rossum",
        "Lamarr", "Knuth", "Easley", "Wirth", "Clarke", "Stroustrup", "Shaw", "Gosling", "Conway")
BRANDS = (("visa", "4242"), ("mastercard", "4444"), ("amex", "8431"), ("visa", "1881"),
          ("discover", "1117"))
DESCRIPTIONS = ("Order", "Invoice payment", "Top-up", "Consulting", "Hardware", "Subscription")


class Template:
    """A fixture split at its markers; ``render(values)`` joins parts and value bytes."""

    __slots__ = ("first", "names", "pairs")

    def __init__(self, obj: dict[str, Any]) -> None:
        raw = orjson.dumps(obj)
        parts: list[bytes] = []
        names: list[str] = []
        pos = 0
        for m in _MARK.finditer(raw):
            parts.append(raw[pos : m.start()])
            names.append((m.group(1) or m.group(2)).decode())
            pos = m.end()
        parts.append(raw[pos:])
        self.first = parts[0]
        self.names = names
        self.pairs = list(zip(names, parts[1:], strict=True))

    def render(self, v: dict[str, bytes]) -> bytes:
        out = [self.first]
        for name, part in self.pairs:
            out.append(v[name])
            out.append(part)
        return b"".join(out)


def jstr(s: str | None) -> bytes:
    return NULL if s is None else orjson.dumps(s)


def jint(n: int | None) -> bytes:
    return NULL if n is None else str(n).encode()


def jbool(b: bool) -> bytes:
    return TRUE if b else FALSE


def list_bytes(url: str, items: list[bytes], has_more: bool, total: int | None = None) -> bytes:
    """A Stripe list object: data, has_more, object, url (and total_count when given)."""
    tail = b'],"has_more":' + (TRUE if has_more else FALSE) + b',"object":"list"'
    if total is not None:
        tail += b',"total_count":' + str(total).encode()
    return b'{"data":[' + b",".join(items) + tail + b',"url":' + orjson.dumps(url) + b"}"


def _fixture(name: str) -> dict[str, Any]:
    return copy.deepcopy(FIXTURES[name])


def _mark(name: str) -> str:
    return f"@@={name}@@"


class Renderer:
    """Builds the per-table row renderers for a ``SandboxData`` and installs them."""

    def __init__(self, d: SandboxData) -> None:
        self.d = d
        self.k = mix(d.seed, 7)
        self.prices = [orjson.dumps(self._price(i)) for i in range(len(d.prices))]
        self.account = self._account()
        self._build()
        d.customers.render_row = self.customer
        d.charges.render_row = self.charge
        d.invoices.render_row = self.invoice
        d.lines.render_row = self.line
        d.subscriptions.render_row = self.subscription
        d.items.render_row = self.item
        d.payouts.render_row = self.payout
        d.txns.render_row = self.txn

    # -- fixtures turned into templates ------------------------------------------------------

    def _price(self, i: int) -> dict[str, Any]:
        p = self.d.prices[i]
        obj = copy.deepcopy(FIXTURES["line_item"]["price"])
        obj.update(id=p.id, product=p.product, unit_amount=p.unit_amount,
                   unit_amount_decimal=str(p.unit_amount), nickname=p.nickname,
                   created=self.d.start_ts - 90 * DAY)
        if p.interval:
            obj["type"] = "recurring"
            obj["recurring"] = {"aggregate_usage": None, "interval": p.interval,
                                "interval_count": 1, "usage_type": "licensed"}
        return obj

    def _account(self) -> bytes:
        a = _fixture("account")
        aid = self.d.account_id
        a.update(id=aid, created=self.d.start_ts - 365 * DAY, email="sandbox@example.com",
                 charges_enabled=True, payouts_enabled=True, details_submitted=True)
        a["business_profile"]["name"] = "Stripe Sandbox"
        a["settings"]["dashboard"]["display_name"] = "Stripe Sandbox"
        a["external_accounts"]["url"] = f"/v1/accounts/{aid}/external_accounts"
        a["requirements"]["currently_due"] = []
        a["requirements"]["eventually_due"] = []
        a["requirements"]["disabled_reason"] = None
        return orjson.dumps(a)

    def _build(self) -> None:
        c = _fixture("customer")
        c.update(id="@@id@@", created=_mark("created"), email=_mark("email"),
                 name=_mark("name"), invoice_prefix="@@prefix@@", description=None,
                 next_invoice_sequence=_mark("seq"), address=None)
        self.t_customer = Template(c)

        ch = _fixture("charge")
        ch.update(id="@@id@@", created=_mark("created"), amount=_mark("amount"),
                  amount_captured=_mark("captured_amount"), amount_refunded=_mark("refunded"),
                  refunded=_mark("is_refunded"), captured=_mark("captured"), paid=_mark("paid"),
                  status="@@status@@", failure_code=_mark("failure_code"),
                  failure_message=_mark("failure_message"), customer=_mark("customer"),
                  invoice=_mark("invoice"), balance_transaction=_mark("txn"),
                  description=_mark("description"), payment_method="card_@@pm@@",
                  calculated_statement_descriptor="SANDBOX",
                  receipt_url="https://pay.stripe.com/receipts/payment/@@id@@")
        ch["billing_details"]["name"] = _mark("name")
        card = ch["payment_method_details"]["card"]
        card.update(brand="@@brand@@", last4="@@last4@@", exp_year=_mark("exp_year"),
                    network="@@brand@@")
        ch["refunds"]["url"] = "/v1/charges/@@id@@/refunds"
        self.t_charge = Template(ch)

        inv = _fixture("invoice")
        inv.update(id="@@id@@", created=_mark("created"), customer=_mark("customer"),
                   customer_email=_mark("email"), customer_name=_mark("name"),
                   subscription=_mark("subscription"), charge=_mark("charge"),
                   amount_due=_mark("total"), amount_paid=_mark("paid_amount"),
                   amount_remaining=_mark("remaining"), subtotal=_mark("total"),
                   subtotal_excluding_tax=_mark("total"), total=_mark("total"),
                   total_excluding_tax=_mark("total"), status="@@status@@",
                   paid=_mark("paid"), number=_mark("number"), period_start=_mark("created"),
                   period_end=_mark("created"), due_date=_mark("due_date"),
                   effective_at=_mark("effective_at"), next_payment_attempt=_mark("next"),
                   webhooks_delivered_at=_mark("created"), hosted_invoice_url=_mark("hosted"),
                   invoice_pdf=_mark("pdf"), billing_reason="@@reason@@",
                   collection_method="@@collection@@", attempted=_mark("attempted"),
                   attempt_count=_mark("attempts"), status_transitions=_mark("transitions"),
                   lines=_mark("lines"), auto_advance=_mark("auto_advance"),
                   ending_balance=_mark("ending_balance"))
        self.t_invoice = Template(inv)

        li = _fixture("line_item")
        li.update(id="@@id@@", invoice="@@invoice@@", amount=_mark("amount"),
                  amount_excluding_tax=_mark("amount"), description=_mark("description"),
                  period=_mark("period"), price=_mark("price"), quantity=_mark("qty"),
                  subscription=_mark("subscription"), subscription_item=_mark("item"),
                  type="@@type@@", invoice_item=_mark("invoice_item"),
                  unit_amount_excluding_tax="@@unit@@")
        sub_li = dict(li)
        del li["subscription_item"]
        self.t_line = Template(li)
        del sub_li["invoice_item"]
        self.t_line_sub = Template(sub_li)

        sub = _fixture("subscription")
        sub.update(id="@@id@@", created=_mark("created"), customer="@@customer@@",
                   status="@@status@@", items=_mark("items"),
                   billing_cycle_anchor=_mark("created"), cancel_at=None,
                   canceled_at=_mark("canceled_at"), ended_at=_mark("canceled_at"),
                   current_period_start=_mark("period_start"),
                   current_period_end=_mark("period_end"), start_date=_mark("created"),
                   latest_invoice=_mark("latest_invoice"), trial_start=_mark("trial_start"),
                   trial_end=_mark("trial_end"), next_pending_invoice_item_invoice=None,
                   collection_method="@@collection@@", days_until_due=_mark("days_until_due"))
        sub["cancellation_details"] = _mark("cancellation")
        self.t_sub = Template(sub)

        si = _fixture("subscription_item")
        si.update(id="@@id@@", created=_mark("created"), subscription="@@subscription@@",
                  price=_mark("price"), quantity=_mark("qty"))
        self.t_item = Template(si)

        po = _fixture("payout")
        po.update(id="@@id@@", created=_mark("created"), amount=_mark("amount"),
                  arrival_date=_mark("arrival"), automatic=_mark("automatic"),
                  status="@@status@@", balance_transaction=None,
                  failure_code=_mark("failure_code"), failure_message=_mark("failure_message"),
                  reconciliation_status="@@recon@@", destination="ba_@@bank@@")
        self.t_payout = Template(po)

        tx = _fixture("balance_transaction")
        tx.update(id="@@id@@", created=_mark("created"), amount=_mark("amount"),
                  available_on=_mark("available_on"), fee=_mark("fee"), net=_mark("net"),
                  fee_details=_mark("fee_details"), source="@@source@@",
                  description=_mark("description"), status="@@status@@")
        self.t_txn = Template(tx)
        self.bank = f"1{mix(self.k, 99):022d}"[:24]

    # -- helpers ------------------------------------------------------------------------------

    def customer_ref(self, row: int) -> bytes:
        return NULL if row < 0 else b'"' + self.d.customers.id_of(row).encode() + b'"'

    def ref(self, table_name: str, row: int) -> bytes:
        if row < 0:
            return NULL
        return b'"' + self.d.tables[table_name].id_of(row).encode() + b'"'

    def name_email(self, crow: int) -> tuple[str, str]:
        if crow < 0:
            return "Guest", "guest@example.com"
        h = mix(self.k, crow)
        first, last = FIRST[h % len(FIRST)], LAST[(h >> 8) % len(LAST)]
        return f"{first} {last}", f"{first}.{last}.{crow}@example.com".lower()

    # -- row renderers ------------------------------------------------------------------------

    def customer(self, row: int) -> bytes:
        d = self.d
        name, email = self.name_email(row)
        return self.t_customer.render({
            "id": d.customers.id_of(row).encode(),
            "created": str(d.customers.created[row]).encode(),
            "email": orjson.dumps(email),
            "name": orjson.dumps(name),
            "prefix": f"{mix(self.k, row) & 0xFFFFFFF:07X}".encode(),
            "seq": str(1 + (mix(self.k, row) >> 40) % 20).encode(),
        })

    def charge(self, row: int) -> bytes:
        d = self.d
        c = d.charges.cols
        status = c["status"][row]
        amount = c["amount"][row]
        refunded = c["refunded"][row]
        crow = c["customer"][row]
        h = mix(self.k ^ 0x55, row)
        brand, last4 = BRANDS[h % len(BRANDS)]
        ok = status == 0
        return self.t_charge.render({
            "id": d.charges.id_of(row).encode(),
            "created": str(d.charges.created[row]).encode(),
            "amount": str(amount).encode(),
            "captured_amount": str(amount if ok else 0).encode(),
            "refunded": str(refunded).encode(),
            "is_refunded": TRUE if refunded and refunded >= amount else FALSE,
            "captured": TRUE if ok else FALSE,
            "paid": TRUE if ok else FALSE,
            "status": CHARGE_STATUS[status].encode(),
            "failure_code": b'"card_declined"' if status == 1 else NULL,
            "failure_message": b'"Your card was declined."' if status == 1 else NULL,
            "customer": self.customer_ref(crow),
            "invoice": self.ref("invoices", c["invoice"][row]),
            "txn": self.ref("balance_transactions", c["txn"][row]),
            "description": b'"' + DESCRIPTIONS[(h >> 8) % len(DESCRIPTIONS)].encode() + b'"',
            "name": orjson.dumps(self.name_email(crow)[0]),
            "pm": f"1{h & 0xFFFFFFFFFFFF:016X}".encode(),
            "brand": brand.encode(),
            "last4": last4.encode(),
            "exp_year": str(2026 + (h >> 16) % 6).encode(),
        })

    def lines_list(self, row: int) -> bytes:
        rel = self.d.invoice_lines
        kids = rel.children(row)
        items = [self.d.lines.render(r) for r in kids[:EMBEDDED_LIMIT]]
        url = f"/v1/invoices/{self.d.invoices.id_of(row)}/lines"
        return list_bytes(url, items, len(kids) > EMBEDDED_LIMIT, len(kids))

    def invoice(self, row: int) -> bytes:
        d = self.d
        c = d.invoices.cols
        created = d.invoices.created[row]
        status = c["status"][row]
        total = c["total"][row]
        crow = c["customer"][row]
        name, email = self.name_email(crow)
        paid = status == 2
        draft = status == 0
        send = c["collection"][row] == 1
        iid = d.invoices.id_of(row)
        number = None if draft else f"{mix(self.k, crow) & 0xFFFFFFF:07X}-{row % 10000 + 1:04d}"
        trans = {
            "finalized_at": None if draft else created,
            "marked_uncollectible_at": created + 3 * DAY if status == 4 else None,
            "paid_at": created if paid else None,
            "voided_at": created + DAY if status == 3 else None,
        }
        return self.t_invoice.render({
            "id": iid.encode(),
            "created": str(created).encode(),
            "customer": self.customer_ref(crow),
            "email": orjson.dumps(email),
            "name": orjson.dumps(name),
            "subscription": self.ref("subscriptions", c["sub"][row]),
            "charge": self.ref("charges", c["charge"][row]),
            "total": str(total).encode(),
            "paid_amount": str(total if paid else 0).encode(),
            "remaining": str(0 if paid or status == 3 else total).encode(),
            "status": INVOICE_STATUS[status].encode(),
            "paid": TRUE if paid else FALSE,
            "number": jstr(number),
            "due_date": str(created + 30 * DAY).encode() if send else NULL,
            "effective_at": NULL if draft else str(created).encode(),
            "next": NULL,
            "hosted": NULL if draft else
            orjson.dumps(f"https://invoice.stripe.com/i/{d.account_id}/{iid}"),
            "pdf": NULL if draft else
            orjson.dumps(f"https://pay.stripe.com/invoice/{d.account_id}/{iid}/pdf"),
            "reason": BILLING_REASON[c["reason"][row]].encode(),
            "collection": COLLECTION[c["collection"][row]].encode(),
            "attempted": FALSE if draft or send else TRUE,
            "attempts": b"0" if draft or send else b"1",
            "transitions": orjson.dumps(trans),
            "lines": self.lines_list(row),
            "auto_advance": FALSE if paid or status >= 3 else TRUE,
            "ending_balance": NULL if draft else b"0",
        })

    def line(self, row: int) -> bytes:
        d = self.d
        c = d.lines.cols
        inv = c["parent"][row]
        price = c["price"][row]
        qty = c["qty"][row]
        unit = d.prices[price].unit_amount
        irow = c["item"][row]
        srow = d.invoices.cols["sub"][inv]
        created = d.invoices.created[inv]
        if irow >= 0:
            period = {"end": created + (365 if d.prices[price].interval == "year" else 30) * DAY,
                      "start": created}
            kind, ii = b"subscription", NULL
        else:
            period = {"end": created, "start": created}
            kind = b"invoiceitem"
            ii = b'"ii_' + d.lines.id_of(row)[3:].encode() + b'"'
        tpl = self.t_line if irow < 0 else self.t_line_sub
        return tpl.render({
            "id": d.lines.id_of(row).encode(),
            "invoice": d.invoices.id_of(inv).encode(),
            "amount": str(unit * qty).encode(),
            "description": orjson.dumps(f"{qty} \u00d7 {d.prices[price].nickname}"),
            "period": orjson.dumps(period),
            "price": self.prices[price],
            "qty": str(qty).encode(),
            "subscription": self.ref("subscriptions", srow),
            "item": self.ref("subscription_items", irow),
            "type": kind,
            "invoice_item": ii,
            "unit": str(unit).encode(),
        })

    def items_list(self, row: int) -> bytes:
        kids = self.d.sub_items.children(row)
        items = [self.d.items.render(r) for r in kids[:EMBEDDED_LIMIT]]
        url = f"/v1/subscription_items?subscription={self.d.subscriptions.id_of(row)}"
        return list_bytes(url, items, len(kids) > EMBEDDED_LIMIT, len(kids))

    def subscription(self, row: int) -> bytes:
        d = self.d
        c = d.subscriptions.cols
        created = d.subscriptions.created[row]
        status = c["status"][row]
        canceled_at = c["canceled_at"][row]
        trialing = status == 2
        # yearly plans are rare; a 30-day period is close enough for every subscription
        period = 30 * DAY
        anchor = canceled_at or d.end_ts
        n = max(0, (anchor - created) // period)
        start = created + n * period
        cancellation = {"comment": None, "feedback": None,
                        "reason": "cancellation_requested" if canceled_at else None}
        send = c["collection"][row] == 1
        return self.t_sub.render({
            "id": d.subscriptions.id_of(row).encode(),
            "created": str(created).encode(),
            "customer": d.customers.id_of(max(0, c["customer"][row])).encode(),
            "status": SUB_STATUS[status].encode(),
            "items": self.items_list(row),
            "canceled_at": str(canceled_at).encode() if canceled_at else NULL,
            "period_start": str(start).encode(),
            "period_end": str(start + period).encode(),
            "latest_invoice": self.ref("invoices", c["latest_invoice"][row]),
            "trial_start": str(created).encode() if trialing else NULL,
            "trial_end": str(created + 14 * DAY).encode() if trialing else NULL,
            "collection": COLLECTION[c["collection"][row]].encode(),
            "days_until_due": b"30" if send else NULL,
            "cancellation": orjson.dumps(cancellation),
        })

    def item(self, row: int) -> bytes:
        d = self.d
        c = d.items.cols
        return self.t_item.render({
            "id": d.items.id_of(row).encode(),
            "created": str(d.items.created[row]).encode(),
            "subscription": d.subscriptions.id_of(c["parent"][row]).encode(),
            "price": self.prices[c["price"][row]],
            "qty": str(c["qty"][row]).encode(),
        })

    def payout(self, row: int) -> bytes:
        d = self.d
        c = d.payouts.cols
        created = d.payouts.created[row]
        status = c["status"][row]
        failed = status == 4
        return self.t_payout.render({
            "id": d.payouts.id_of(row).encode(),
            "created": str(created).encode(),
            "amount": str(c["amount"][row]).encode(),
            "arrival": str(created - created % DAY + 2 * DAY).encode(),
            "automatic": TRUE if c["automatic"][row] else FALSE,
            "status": PAYOUT_STATUS[status].encode(),
            "failure_code": b'"account_closed"' if failed else NULL,
            "failure_message": b'"The bank account has been closed."' if failed else NULL,
            "recon": b"completed" if status == 0 else b"in_progress" if status < 3
            else b"not_applicable",
            "bank": self.bank.encode(),
        })

    def txn(self, row: int) -> bytes:
        d = self.d
        c = d.txns.cols
        created = d.txns.created[row]
        amount = c["amount"][row]
        fee = fee_for(amount)
        fee_details = (b'[{"amount":' + str(fee).encode() + b',"application":null,'
                       b'"currency":"usd","description":"Stripe processing fees",'
                       b'"type":"stripe_fee"}]') if fee else b"[]"
        paid_out = c["payout"][row] >= 0
        return self.t_txn.render({
            "id": d.txns.id_of(row).encode(),
            "created": str(created).encode(),
            "amount": str(amount).encode(),
            "available_on": str(created - created % DAY + 2 * DAY).encode(),
            "fee": str(fee).encode(),
            "net": str(amount - fee).encode(),
            "fee_details": fee_details,
            "source": d.charges.id_of(c["charge"][row]).encode(),
            "description": orjson.dumps(DESCRIPTIONS[(mix(self.k ^ 0x55, c["charge"][row]) >> 8)
                                                     % len(DESCRIPTIONS)]),
            "status": b"available" if paid_out or created < d.end_ts - 2 * DAY else b"pending",
        })


RowRenderer = Callable[[int], bytes]
