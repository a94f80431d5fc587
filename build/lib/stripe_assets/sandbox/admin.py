"""``/_sandbox/*``: ground-truth counts, stats, runtime config, the clock and mutations.

Mutations change objects the way Stripe would and append the matching events:

``POST /_sandbox/mutate`` with ``{"actions": [{"op": ..., "resource": ..., "id": ...}, ...]}``
and/or ``{"random": N}``. Ops: ``create``, ``update`` (``changes`` = top-level fields such as
``metadata``, ``description``, ``name``, ``email``), ``delete`` (customers, canceling their
subscriptions), ``refund`` (charges), ``pay`` / ``void`` (invoices), ``cancel``
(subscriptions), ``random``.
"""

from __future__ import annotations

import random
from itertools import compress
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson

from .config import RUNTIME_FIELDS
from .data import CHARGE_STATUS, INVOICE_STATUS, PAYOUT_STATUS, SUB_STATUS, fee_for, mix
from .errors import ApiError
from .store import Table

if TYPE_CHECKING:
    from .core import Sandbox

API_VERSION = b"2022-11-15"
UPDATABLE = {"metadata", "description", "name", "email", "phone"}
RANDOM_OPS = (
    ("customers", "update", 18),
    ("customers", "create", 10),
    ("customers", "delete", 3),
    ("charges", "create", 20),
    ("charges", "refund", 5),
    ("charges", "update", 4),
    ("invoices", "create", 8),
    ("invoices", "pay", 8),
    ("invoices", "update", 3),
    ("invoices", "void", 1),
    ("subscriptions", "create", 6),
    ("subscriptions", "update", 5),
    ("subscriptions", "cancel", 5),
    ("payouts", "create", 2),
    ("payouts", "update", 2),
)
EVENT_PREFIX = {
    "customers": "customer",
    "charges": "charge",
    "invoices": "invoice",
    "subscriptions": "customer.subscription",
    "payouts": "payout",
}


def _json(status: int, obj: Any) -> tuple[int, bytes]:
    return status, orjson.dumps(obj)


class Admin:
    """Handles ``/_sandbox`` requests (no auth, no faults, not counted in stats)."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.d = sb.data
        self.rng = random.Random(mix(sb.cfg.seed, 0xAC71))

    # -- routing -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: str, body: bytes) -> tuple[int, bytes]:
        route = path.rstrip("/")
        try:
            payload = orjson.loads(body) if body.strip() else {}
        except orjson.JSONDecodeError:
            return _json(
                400, {"error": {"type": "invalid_request_error", "message": "body must be JSON"}}
            )
        try:
            if route == "/_sandbox/health":
                return _json(200, {"ok": True, "now": self.sb.clock.now()})
            if route == "/_sandbox/counts" and method == "GET":
                params = dict(parse_qsl(query))
                gte = _opt_int(params, "created[gte]")
                lt = _opt_int(params, "created[lt]")
                return _json(200, self.counts(gte, lt))
            if route == "/_sandbox/stats" and method == "GET":
                return _json(200, self.sb.stats.snapshot())
            if route == "/_sandbox/stats/reset" and method == "POST":
                self.sb.stats.reset()
                return _json(200, {"ok": True})
            if route == "/_sandbox/config":
                if method == "POST":
                    self.configure(payload)
                return _json(200, self.config())
            if route == "/_sandbox/clock":
                if method == "POST":
                    if "advance" in payload:
                        self.sb.clock.advance(float(payload["advance"]))
                    elif "set" in payload:
                        self.sb.clock.advance(max(0.0, float(payload["set"]) - self.sb.clock.now()))
                return _json(200, {"now": self.sb.clock.now(), "offset": self.sb.clock.offset})
            if route == "/_sandbox/mutate" and method == "POST":
                return _json(200, self.mutate(payload))
            if route == "/_sandbox/info":
                return _json(200, self.info())
        except ApiError as exc:
            return exc.status, exc.body()
        except (ValueError, TypeError, KeyError) as exc:
            return _json(400, {"error": {"type": "invalid_request_error", "message": str(exc)}})
        return _json(
            404,
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": f"Unknown sandbox endpoint {method} {path}",
                }
            },
        )

    # -- read-only views -----------------------------------------------------------------------

    def counts(self, gte: int | None, lt: int | None) -> dict[str, int]:
        """Current-state counts for ``gte <= created < lt`` (children by parent's created)."""
        d = self.d
        inv = d.invoices.rows_in(gte, lt)
        subs = d.subscriptions.rows_in(gte, lt)
        pos = d.payouts.rows_in(gte, lt)
        floor = self.sb.retention_floor()
        ev_gte = floor if gte is None else max(gte, floor)
        return {
            "charges": d.charges.count(gte, lt),
            "customers": d.customers.count(gte, lt),
            "invoices": len(inv),
            "invoice_line_items": d.invoice_lines.total(inv),
            "subscriptions": len(subs),
            "subscription_items": d.sub_items.total(subs),
            "payouts": len(pos),
            "payout_transactions": d.payout_txns.total(pos),
            "balance_transactions": d.txns.count(gte, lt),
            "events": d.events.bounds(ev_gte, lt)[1] - d.events.bounds(ev_gte, lt)[0],
        }

    def config(self) -> dict[str, Any]:
        cfg = self.sb.cfg
        return {
            **self.sb.faults.settings(),
            "activity_per_second": self.sb.activity_per_second,
            "seed": cfg.seed,
            "start": cfg.start,
            "end": cfg.end,
            "scale": cfg.scale,
        }

    def configure(self, changes: dict[str, Any]) -> None:
        unknown = set(changes) - set(RUNTIME_FIELDS)
        if unknown:
            raise ValueError(
                f"cannot change {sorted(unknown)} at runtime; allowed: {list(RUNTIME_FIELDS)}"
            )
        changes = dict(changes)
        if "activity_per_second" in changes:
            rate = float(changes.pop("activity_per_second"))
            if rate < 0:
                raise ValueError("activity_per_second must be >= 0")
            self.sb.activity_per_second = rate
        self.sb.faults.update(**changes)

    def info(self) -> dict[str, Any]:
        d = self.d
        return {
            "objects": d.total_objects(),
            "tables": {k: len(t) for k, t in d.tables.items()} | {"events": len(d.events)},
            "generation_seconds": self.sb.generation_seconds,
            "render_seconds": self.sb.render_seconds,
            "start_ts": d.start_ts,
            "end_ts": d.end_ts,
            "account": d.account_id,
            "now": self.sb.clock.now(),
        }

    # -- mutations -----------------------------------------------------------------------------

    def mutate(self, body: dict[str, Any]) -> dict[str, Any]:
        actions = list(body.get("actions") or [])
        actions += [{"op": "random"}] * int(body.get("random", 0))
        results = [self.apply(dict(a)) for a in actions]
        return {
            "now": self.sb.clock.now(),
            "results": results,
            "events": [e for r in results for e in r["events"]],
        }

    def random_action(self) -> dict[str, Any]:
        ops = RANDOM_OPS
        resource, op, _ = self.rng.choices(ops, [w for *_, w in ops])[0]
        return {"op": op, "resource": resource}

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        if action.get("op") == "random":
            action = self.random_action()
        op = action.get("op")
        resource = action.get("resource")
        if resource not in EVENT_PREFIX:
            raise ValueError(f"resource must be one of {sorted(EVENT_PREFIX)}, not {resource!r}")
        table = self.d.tables[resource]
        if op == "create":
            return getattr(self, f"create_{resource}")(action)
        row = self._target(table, action, op)
        if op == "update":
            changes = action.get("changes") or self._random_changes(resource)
            bad = set(changes) - UPDATABLE
            if bad:
                raise ValueError(f"cannot update {sorted(bad)}; updatable: {sorted(UPDATABLE)}")
            return self._update(table, row, changes, op)
        handler = getattr(self, f"{op}_{resource}", None)
        if handler is None:
            raise ValueError(f"op {op!r} is not supported for {resource}")
        return handler(row)

    def _target(self, table: Table, action: dict[str, Any], op: str) -> int:
        obj_id = action.get("id")
        if obj_id:
            row = table.row_of(obj_id)
            if row < 0:
                raise ApiError(
                    404, f"No such {table.obj}: '{obj_id}'", code="resource_missing", param="id"
                )
            if table.deleted[row]:
                raise ApiError(400, f"{table.obj} {obj_id} is deleted")
            return row
        wanted = {
            ("invoices", "pay"): {INVOICE_STATUS.index("draft"), INVOICE_STATUS.index("open")},
            ("invoices", "void"): {INVOICE_STATUS.index("draft"), INVOICE_STATUS.index("open")},
            ("charges", "refund"): {CHARGE_STATUS.index("succeeded")},
            ("subscriptions", "cancel"): set(range(len(SUB_STATUS))) - {1, 6},
        }.get((table.name, op))
        for _ in range(200):
            if not table.keys:
                break
            row = table.keys[self.rng.randrange(len(table.keys))] & ((1 << 30) - 1)
            if table.deleted[row]:
                continue
            if wanted is not None and table.cols["status"][row] not in wanted:
                continue
            if op == "refund" and table.cols["refunded"][row]:
                continue
            return row
        raise ApiError(400, f"no {table.name} object suitable for {op}")

    def _random_changes(self, resource: str) -> dict[str, Any]:
        n = self.rng.randrange(1_000_000)
        changes: dict[str, Any] = {"metadata": {"sandbox_rev": str(n)}}
        if resource == "customers" and self.rng.random() < 0.5:
            changes["email"] = f"updated.{n}@example.com"
        elif resource in ("charges", "invoices", "subscriptions", "payouts"):
            changes["description"] = f"Updated #{n}"
        return changes

    # object state helpers

    def _obj(self, table: Table, row: int) -> dict[str, Any]:
        return orjson.loads(table.render(row))

    def _refresh(self, table: Table, row: int) -> None:
        """Re-render a row after its columns changed, keeping its patch."""
        table.invalidate(row)
        patch = table.patches.get(row)
        if patch:
            obj = orjson.loads(table.render_row(row))
            obj.update(patch)
            table.overrides[row] = orjson.dumps(obj)

    def _patch(self, table: Table, row: int, changes: dict[str, Any]) -> None:
        table.patches.setdefault(row, {}).update(changes)
        self._refresh(table, row)

    def _event(self, etype: str, obj: bytes, prev: dict[str, Any] | None = None) -> dict:
        ev = self.d.events
        now = max(self.sb.clock.now(), ev.created[-1] if len(ev) else 0)
        row = ev.next_row()
        eid = ev.id_of(row)
        body = b"".join(
            [
                b'{"api_version":"',
                API_VERSION,
                b'","created":',
                str(now).encode(),
                b',"data":{"object":',
                obj,
                (b',"previous_attributes":' + orjson.dumps(prev)) if prev is not None else b"",
                b'},"id":"',
                eid.encode(),
                b'","livemode":false,"object":"event","pending_webhooks":0,"request":{"id":"',
                self.sb.request_id().encode(),
                b'","idempotency_key":null},"type":"',
                etype.encode(),
                b'"}',
            ]
        )
        ev.append(now, etype, body)
        return {"id": eid, "type": etype, "created": now}

    def _result(
        self, op: str, table: Table, row: int, events: list[dict], **extra: Any
    ) -> dict[str, Any]:
        return {
            "op": op,
            "resource": table.name,
            "id": table.id_of(row),
            "created": table.created[row],
            "events": events,
            **extra,
        }

    def _changed(
        self, table: Table, row: int, before: dict[str, Any], types: list[str], op: str
    ) -> dict[str, Any]:
        after_bytes = table.render(row)
        after = orjson.loads(after_bytes)
        prev = {k: v for k, v in before.items() if after.get(k) != v}
        events = []
        for etype in types:
            events.append(
                self._event(etype, after_bytes, prev if etype.endswith(".updated") else None)
            )
        return self._result(op, table, row, events, previous_attributes=prev)

    def _update(self, table: Table, row: int, changes: dict[str, Any], op: str) -> dict:
        before = self._obj(table, row)
        self._patch(table, row, changes)
        return self._changed(table, row, before, [f"{EVENT_PREFIX[table.name]}.updated"], op)

    # per-resource ops

    def delete_customers(self, row: int) -> dict[str, Any]:
        """As Stripe: the customer's subscriptions that have not ended are canceled first
        (``customer.subscription.deleted`` each), then ``customer.deleted``."""
        t = self.d.customers
        subs = self.d.subscriptions
        status, customer = subs.cols["status"], subs.cols["customer"]
        ended = {SUB_STATUS.index("canceled"), SUB_STATUS.index("incomplete_expired")}
        mine = compress(range(len(customer)), map(row.__eq__, customer))
        canceled = [self.cancel_subscriptions(s) for s in mine if status[s] not in ended]
        obj = t.render(row)
        t.deleted[row] = 1
        t.remove_key(row)
        events = [e for r in canceled for e in r["events"]]
        return self._result(
            "delete",
            t,
            row,
            [*events, self._event("customer.deleted", obj)],
            canceled_subscriptions=[r["id"] for r in canceled],
        )

    def refund_charges(self, row: int) -> dict[str, Any]:
        t = self.d.charges
        c = t.cols
        if c["status"][row] != 0 or c["refunded"][row] >= c["amount"][row]:
            raise ApiError(
                400,
                f"Charge {t.id_of(row)} has already been refunded or failed.",
                code="charge_already_refunded",
            )
        before = self._obj(t, row)
        c["refunded"][row] = c["amount"][row]
        self._refresh(t, row)
        return self._changed(t, row, before, ["charge.refunded", "charge.updated"], "refund")

    def pay_invoices(self, row: int) -> dict[str, Any]:
        t = self.d.invoices
        c = t.cols
        if c["status"][row] not in (0, 1):
            raise ApiError(
                400,
                f"Invoice {t.id_of(row)} is {INVOICE_STATUS[c['status'][row]]}"
                "; only draft or open invoices can be paid.",
                code="invoice_not_editable",
            )
        before = self._obj(t, row)
        events = []
        if c["total"][row] > 0:
            charge = self._new_charge(c["customer"][row], c["total"][row], row)
            c["charge"][row] = charge
            events.append(self._event("charge.succeeded", self.d.charges.render(charge)))
        c["status"][row] = INVOICE_STATUS.index("paid")
        self._refresh(t, row)
        res = self._changed(
            t, row, before, ["invoice.updated", "invoice.paid", "invoice.payment_succeeded"], "pay"
        )
        res["events"] = events + res["events"]
        if events:
            res["created_ids"] = [self.d.charges.id_of(c["charge"][row])]
        return res

    def void_invoices(self, row: int) -> dict[str, Any]:
        t = self.d.invoices
        if t.cols["status"][row] not in (0, 1):
            raise ApiError(
                400, "only draft or open invoices can be voided", code="invoice_not_editable"
            )
        before = self._obj(t, row)
        t.cols["status"][row] = INVOICE_STATUS.index("void")
        self._refresh(t, row)
        return self._changed(t, row, before, ["invoice.updated", "invoice.voided"], "void")

    def cancel_subscriptions(self, row: int) -> dict[str, Any]:
        t = self.d.subscriptions
        c = t.cols
        if c["status"][row] in (1, 6):
            raise ApiError(400, f"Subscription {t.id_of(row)} is already canceled.")
        before = self._obj(t, row)
        c["status"][row] = SUB_STATUS.index("canceled")
        c["canceled_at"][row] = max(self.sb.clock.now(), t.created[row])
        self._refresh(t, row)
        return self._changed(t, row, before, ["customer.subscription.deleted"], "cancel")

    # creations

    def _customer_for(self, action: dict[str, Any]) -> int:
        cust = self.d.customers
        if action.get("customer"):
            row = cust.row_of(action["customer"])
            if row < 0:
                raise ApiError(
                    400,
                    f"No such customer: '{action['customer']}'",
                    code="resource_missing",
                    param="customer",
                )
            return row
        if not cust.keys:
            return -1
        return cust.keys[self.rng.randrange(len(cust.keys))] & ((1 << 30) - 1)

    def _append(self, table: Table, **cols: int) -> int:
        row = len(table.created)
        table.created.append(max(self.sb.clock.now(), 0))
        for name, col in table.cols.items():
            col.append(cols.get(name, -1 if col.typecode == "i" else 0))
        table.deleted.append(0)
        table.sync_ids()
        return row

    def _new_charge(self, customer: int, amount: int, invoice: int = -1) -> int:
        d = self.d
        row = self._append(
            d.charges,
            customer=customer,
            amount=amount,
            invoice=invoice,
            status=0,
            refunded=0,
            txn=-1,
        )
        txn = self._append(d.txns, charge=row, amount=amount, payout=-1)
        d.charges.cols["txn"][row] = txn
        d.charges.add_key(row)
        d.txns.add_key(txn)
        return row

    def create_customers(self, action: dict[str, Any]) -> dict[str, Any]:
        t = self.d.customers
        row = self._append(t)
        t.add_key(row)
        patch = {k: action[k] for k in ("name", "email", "metadata") if k in action}
        if patch:
            self._patch(t, row, patch)
        return self._result("create", t, row, [self._event("customer.created", t.render(row))])

    def create_charges(self, action: dict[str, Any]) -> dict[str, Any]:
        amount = int(action.get("amount") or self.rng.randint(100, 99_999))
        row = self._new_charge(self._customer_for(action), amount)
        t = self.d.charges
        return self._result(
            "create",
            t,
            row,
            [self._event("charge.succeeded", t.render(row))],
            created_ids=[self.d.txns.id_of(t.cols["txn"][row])],
        )

    def create_invoices(self, action: dict[str, Any]) -> dict[str, Any]:
        d = self.d
        n_lines = int(action.get("lines") or self.rng.choice((1, 2, 3, 5, 12, 25)))
        if not 1 <= n_lines <= 1000:
            raise ValueError("lines must be within 1..1000")
        t, ln = d.invoices, d.lines
        status = INVOICE_STATUS.index(action.get("status", "open"))
        row = self._append(
            t,
            customer=self._customer_for(action),
            sub=-1,
            charge=-1,
            status=status,
            total=0,
            collection=0,
            reason=0,
        )
        d.invoice_lines.start.append(len(ln.created))
        d.invoice_lines.count.append(n_lines)
        total = 0
        for _ in range(n_lines):
            price = 8 + self.rng.randrange(8)
            qty = self.rng.randint(1, 5)
            self._append(ln, parent=row, price=price, qty=qty, item=-1)
            ln.created[-1] = t.created[row]
            total += d.prices[price].unit_amount * qty
        t.cols["total"][row] = total
        t.add_key(row)
        return self._result(
            "create", t, row, [self._event("invoice.created", t.render(row))], lines=n_lines
        )

    def create_subscriptions(self, action: dict[str, Any]) -> dict[str, Any]:
        d = self.d
        n_items = int(action.get("items") or self.rng.choice((1, 1, 2, 3, 12)))
        if not 1 <= n_items <= 250:
            raise ValueError("items must be within 1..250")
        t, it = d.subscriptions, d.items
        row = self._append(
            t,
            customer=max(0, self._customer_for(action)),
            status=0,
            canceled_at=0,
            latest_invoice=-1,
            collection=0,
        )
        d.sub_items.start.append(len(it.created))
        d.sub_items.count.append(n_items)
        for _ in range(n_items):
            self._append(it, parent=row, price=self.rng.randrange(8), qty=1)
            it.created[-1] = t.created[row]
        t.add_key(row)
        return self._result(
            "create",
            t,
            row,
            [self._event("customer.subscription.created", t.render(row))],
            items=n_items,
        )

    def create_payouts(self, action: dict[str, Any]) -> dict[str, Any]:
        d = self.d
        t = d.payouts
        amount = int(action.get("amount") or self.rng.choice((5000, 20000, 100000)))
        row = self._append(t, amount=amount, status=PAYOUT_STATUS.index("pending"), automatic=0)
        d.payout_txns.start.append(len(d.txns.created))
        d.payout_txns.count.append(0)
        t.add_key(row)
        return self._result("create", t, row, [self._event("payout.created", t.render(row))])


def _opt_int(params: dict[str, str], key: str) -> int | None:
    if key not in params or params[key] == "":
        return None
    try:
        return int(params[key])
    except ValueError:
        raise ValueError(f"{key} must be an integer") from None


__all__ = ["Admin", "fee_for"]
