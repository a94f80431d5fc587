"""``/_sandbox/*``: ground-truth counts, stats, runtime config, the clock and mutations.

Counts follow from the registry: per table, the objects its list (with the entry's fixed
parameters) returns for a ``created`` window; per child table, the children of those parents.

Mutations change objects the way Stripe would and append the matching events (the registry
gives each table's event types):

``POST /_sandbox/mutate`` with ``{"actions": [{"op": ..., "resource": <table>, "id": ...},
...]}`` and/or ``{"random": N}``. Ops for every top-level table: ``create`` (a new object now,
with its references), ``update`` (``changes`` = top-level fields such as ``metadata``,
``description``, ``name``, ``email``), ``delete`` (tables Stripe deletes from: customers,
whose subscriptions are canceled first, invoices, invoice items). Also ``refund`` (charges:
a refund object, its balance transaction), ``pay`` / ``void`` (invoices), ``cancel``
(subscriptions), ``settle`` (balance transactions: pending -> available, without an event, as
Stripe does), ``random``.
"""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson

from stripe_assets.tables import TABLES, TABLES_BY_NAME, StripeTable

from .api import ListParams
from .billing import new_price, new_product
from .config import RUNTIME_FIELDS
from .errors import ApiError
from .store import EMBEDDED_LIMIT, ROW_MASK, Table
from .world import mix

if TYPE_CHECKING:
    from .core import Sandbox

API_VERSION = b"2022-11-15"
UPDATABLE = {"metadata", "description", "name", "email", "phone"}
SPECIAL_OPS = {
    ("charges", "refund"): 5,
    ("invoices", "pay"): 8,
    ("invoices", "void"): 1,
    ("subscriptions", "cancel"): 5,
}
CREATE_WEIGHT = {"customers": 10, "charges": 20, "invoices": 8, "subscriptions": 6}
UPDATE_WEIGHT = {"customers": 18, "charges": 4, "invoices": 3, "subscriptions": 5}


def _json(status: int, obj: Any) -> tuple[int, bytes]:
    return status, orjson.dumps(obj)


def _pages(n: int) -> int:
    return max(1, -(-n // 100))


def _opt_int(params: dict[str, str], key: str) -> int | None:
    if key not in params or params[key] == "":
        return None
    try:
        return int(params[key])
    except ValueError:
        raise ValueError(f"{key} must be an integer") from None


class Admin:
    """Handles ``/_sandbox`` requests (no auth, no faults, not counted in stats)."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.w = sb.data
        self.rng = random.Random(mix(sb.cfg.seed, 0xAC71))
        self.random_ops = self._random_ops()

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
            if route == "/_sandbox/requests" and method == "GET":
                params = dict(parse_qsl(query))
                gte = _opt_int(params, "created[gte]")
                lt = _opt_int(params, "created[lt]")
                only = params.get("tables")
                return _json(200, self.minimum_requests(gte, lt, only.split(",") if only else None))
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

    def listed(self, entry: StripeTable, gte: int | None, lt: int | None) -> list[int]:
        """Rows the entry's list (with its fixed parameters) returns for a created window."""
        table = self.w.of(entry.name)
        pred = self.sb.api._filter(table, entry, ListParams(extra=dict(entry.params)))
        rows = table.rows_in(gte, lt)
        return [r for r in rows if pred(r)] if pred is not None else list(rows)

    def counts(self, gte: int | None, lt: int | None) -> dict[str, int]:
        """Ground truth per registry table for ``gte <= created < lt`` (children by their
        parent's created), and the events retained in the window."""
        out: dict[str, int] = {}
        parents: dict[str, list[int]] = {}
        for entry in TABLES:
            if entry.child is None and entry.name in self.w.served:
                parents[entry.name] = self.listed(entry, gte, lt)
                out[entry.name] = len(parents[entry.name])
        for entry in TABLES:
            link = entry.child
            if link is None:
                continue
            rel = self.w.rels[entry.name]
            rows = parents[link.parent]
            if link.parent_filter is not None:
                name, value = link.parent_filter
                col = rel.parent.cols[name]
                rows = [r for r in rows if col[r] == value]
            out[entry.name] = rel.total(rows)
        floor = self.sb.retention_floor()
        ev_gte = floor if gte is None else max(gte, floor)
        lo, hi = self.w.events.bounds(ev_gte, lt)
        out["events"] = hi - lo
        return out

    def minimum_requests(
        self, gte: int | None, lt: int | None, tables: list[str] | None = None
    ) -> dict[str, int]:
        """Per path template, the fewest requests that load every table for a window: pages
        of 100 per list (a list without `created` from its newest object down to the first
        one older than the window), a child request only beyond an embedded first page of 10,
        one walk per parent otherwise, and one page of deletion events."""
        need: dict[str, int] = {"/v1/events": 1}
        parents: dict[str, list[int]] = {}

        wanted = set(tables) if tables is not None else {t.name for t in TABLES}

        def add(path: str, n: int) -> None:
            key = re.sub(r"\{\w+\}", "{id}", path)
            need[key] = need.get(key, 0) + n

        for entry in TABLES:
            if entry.child is not None:
                continue
            if entry.name not in self.w.served:  # the event log
                if entry.name in wanted:
                    floor = self.sb.retention_floor()
                    lo, hi = self.w.events.bounds(floor if gte is None else max(gte, floor), lt)
                    need[entry.path] = need.get(entry.path, 0) + _pages(hi - lo)
                continue
            if entry.snapshot:  # read whole on every run
                rows = parents[entry.name] = self.listed(entry, None, None)
                if entry.name in wanted:
                    add(entry.path, _pages(len(rows)))
                continue
            rows = parents[entry.name] = self.listed(entry, gte, lt)
            if entry.name not in wanted:
                continue
            if entry.created_filter:
                add(entry.path, _pages(len(rows)))
            else:
                newer = len(self.listed(entry, gte, None))
                total = len(self.listed(entry, None, None))
                add(entry.path, _pages(newer + (newer < total)))
        for entry in TABLES:
            link = entry.child
            if link is None or entry.name not in wanted:
                continue
            rel = self.w.rels[entry.name]
            for prow in parents[link.parent]:
                if link.parent_filter is not None:
                    name, value = link.parent_filter
                    if rel.parent.cols[name][prow] != value:
                        continue
                n = rel.count(prow)
                if link.embedded_field:
                    if n > EMBEDDED_LIMIT:
                        add(link.path, -(-(n - EMBEDDED_LIMIT) // 100))
                else:
                    add(link.path, _pages(n))
        return need

    def config(self) -> dict[str, Any]:
        cfg = self.sb.cfg
        return {
            **self.sb.faults.settings(),
            "activity_per_second": self.sb.activity_per_second,
            "seed": cfg.seed,
            "start": cfg.start,
            "end": cfg.end,
            "scale": cfg.scale,
            "volumes": {name: self.w.volume(name) for name in self._generated()},
        }

    def _generated(self) -> list[str]:
        return [t.name for t in TABLES if not t.is_child and not t.sandbox.per]

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
        w = self.w
        return {
            "objects": w.total_objects(),
            "tables": {k: len(t) for k, t in w.tables.items()} | {"events": len(w.events)},
            "generation_seconds": self.sb.generation_seconds,
            "render_seconds": self.sb.render_seconds,
            "start_ts": w.start,
            "end_ts": w.end,
            "account": w.account_id,
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

    def _random_ops(self) -> list[tuple[str, str, int]]:
        ops = [(name, "create", weight) for name, weight in CREATE_WEIGHT.items()]
        ops += [(name, "update", weight) for name, weight in UPDATE_WEIGHT.items()]
        ops += [(name, op, weight) for (name, op), weight in SPECIAL_OPS.items()]
        ops += [("customers", "delete", 3), ("payouts", "create", 2), ("payouts", "update", 2)]
        return ops

    def random_action(self) -> dict[str, Any]:
        resource, op, _ = self.rng.choices(self.random_ops, [w for *_, w in self.random_ops])[0]
        return {"op": op, "resource": resource}

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        if action.get("op") == "random":
            action = self.random_action()
        op = action.get("op")
        name = action.get("resource")
        entry = TABLES_BY_NAME.get(str(name))
        if entry is None or entry.is_child:
            choices = sorted(t.name for t in TABLES if not t.is_child)
            raise ValueError(f"resource must be one of {choices}, not {name!r}")
        table = self.w.of(entry.name)
        if op == "create":
            return self.create(entry, table, action)
        row = self._target(entry, table, action, str(op))
        if op == "update":
            changes = action.get("changes") or self._random_changes(entry)
            bad = set(changes) - UPDATABLE
            if bad:
                raise ValueError(f"cannot update {sorted(bad)}; updatable: {sorted(UPDATABLE)}")
            return self._update(entry, table, row, changes)
        if op == "delete":
            return self.delete(entry, table, row)
        handler = getattr(self, f"{op}_{entry.name}", None)
        if handler is None:
            raise ValueError(f"op {op!r} is not supported for {entry.name}")
        return handler(row)

    def _target(self, entry: StripeTable, table: Table, action: dict[str, Any], op: str) -> int:
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
            ("invoices", "pay"): {"draft", "open"},
            ("invoices", "void"): {"draft", "open"},
            ("charges", "refund"): {"succeeded"},
            ("subscriptions", "cancel"): {"active", "trialing", "past_due", "unpaid", "incomplete"},
            ("balance_transactions", "settle"): {"pending"},
        }.get((entry.name, op))
        status = table.cols.get("status")
        for _ in range(400):
            if not table.keys:
                break
            row = table.keys[self.rng.randrange(len(table.keys))] & ROW_MASK
            if table.deleted[row]:
                continue
            if wanted is not None and (status is None or status[row] not in wanted):
                continue
            if op == "refund" and table.cols["amount_refunded"][row] >= table.cols["amount"][row]:
                continue
            return row
        raise ApiError(400, f"no {entry.name} object suitable for {op}")

    def _random_changes(self, entry: StripeTable) -> dict[str, Any]:
        n = self.rng.randrange(1_000_000)
        changes: dict[str, Any] = {"metadata": {"sandbox_rev": str(n)}}
        if entry.name == "customers" and self.rng.random() < 0.5:
            changes["email"] = f"updated.{n}@example.com"
        elif entry.name != "customers":
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

    def _event(self, etype: str | None, obj: bytes, prev: dict[str, Any] | None = None) -> list:
        if etype is None:  # Stripe sends no event for this change
            return []
        ev = self.w.events
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
        return [{"id": eid, "type": etype, "created": now}]

    def _result(
        self, op: str, entry: StripeTable, table: Table, row: int, events: list, **extra: Any
    ) -> dict[str, Any]:
        return {
            "op": op,
            "resource": entry.name,
            "id": table.id_of(row),
            "created": table.created[row],
            "events": events,
            **extra,
        }

    def _changed(
        self, entry: StripeTable, row: int, before: dict[str, Any], types: list[str], op: str
    ) -> dict[str, Any]:
        table = self.w.of(entry.name)
        after_bytes = table.render(row)
        after = orjson.loads(after_bytes)
        prev = {k: v for k, v in before.items() if after.get(k) != v}
        events = []
        for etype in types:
            events += self._event(etype, after_bytes, prev if etype.endswith(".updated") else None)
        return self._result(op, entry, table, row, events, previous_attributes=prev)

    def _update(
        self, entry: StripeTable, table: Table, row: int, changes: dict[str, Any]
    ) -> dict[str, Any]:
        before = self._obj(table, row)
        self._patch(table, row, changes)
        updated = entry.event("updated")
        return self._changed(entry, row, before, [updated] if updated else [], "update")

    # -- creations -----------------------------------------------------------------------------

    def _now(self) -> int:
        return max(self.sb.clock.now(), 0)

    def _listed(self, table: Table, row: int) -> None:
        table.sync_ids()
        table.add_key(row)

    def _customer_for(self, action: dict[str, Any]) -> int:
        cust = self.w.of("customers")
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
        return cust.keys[self.rng.randrange(len(cust.keys))] & ROW_MASK

    def create(self, entry: StripeTable, table: Table, action: dict[str, Any]) -> dict:
        maker = getattr(self, f"create_{entry.name}", None)
        if maker is not None:
            return maker(entry, action)
        fixed = {}
        for ref in entry.refs:
            if action.get(ref.field):
                target = self.w.of(ref.table)
                fixed[ref.field] = target.row_of(str(action[ref.field]))
                if fixed[ref.field] < 0:
                    raise ApiError(
                        400,
                        f"No such {target.obj}: '{action[ref.field]}'",
                        code="resource_missing",
                        param=ref.field,
                    )
        per = entry.sandbox.per
        if per and per not in fixed:
            fixed[per] = self._eligible_target(entry, per)
        row = self.w.generic.make(entry, table, self.rng, self._now(), fixed)
        if row < 0:
            raise ApiError(400, f"nothing left to {entry.name} on that object")
        self._created_with_refs(entry, table, row)
        return self._result(
            "create", entry, table, row, self._event(entry.event("created"), table.render(row))
        )

    def _eligible_target(self, entry: StripeTable, field: str) -> int:
        """A random object a new `per` object may point at (a charge with room to refund)."""
        ref = next(r for r in entry.refs if r.field == field)
        target = self.w.of(ref.table)
        for _ in range(400):
            if not target.keys:
                break
            row = target.keys[self.rng.randrange(len(target.keys))] & ROW_MASK
            if not target.deleted[row] and self.w.generic._eligible(entry, ref, row):
                return row
        raise ApiError(400, f"no {ref.table} object a new {entry.name} could refer to")

    def _created_with_refs(self, entry: StripeTable, table: Table, row: int) -> None:
        self._listed(table, row)
        for ref in entry.refs:
            target_row = table.cols[ref.field][row]
            if isinstance(target_row, int) and target_row >= 0:
                self._refresh(self.w.of(ref.table), target_row)

    def create_products(self, entry: StripeTable, action: dict[str, Any]) -> dict:
        """A product with a monthly usd price (and its plan)."""
        t = self.w.of("products")
        row = new_product(self.w, self._now(), str(action.get("name") or "New product"))
        price = new_price(self.w, self._now(), row, 1_500, "usd", "month", 1, "New plan")
        t.cols["default_price"][row] = price.row
        self._listed(t, row)
        for name in ("prices", "plans"):
            self._listed(self.w.of(name), price.row)
        return self._result("create", entry, t, row, self._event("product.created", t.render(row)))

    def create_prices(self, entry: StripeTable, action: dict[str, Any]) -> dict:
        return self._new_price(entry, interval=action.get("interval", "month"))

    def create_plans(self, entry: StripeTable, action: dict[str, Any]) -> dict:
        return self._new_price(entry, interval=action.get("interval", "month"))

    def _new_price(self, entry: StripeTable, interval: str | None) -> dict:
        products = self.w.of("products")
        product = products.keys[self.rng.randrange(len(products.keys))] & ROW_MASK
        price = new_price(self.w, self._now(), product, 2_000, "usd", interval, 1, "Price")
        for name in ("prices", "plans"):
            if not self.w.of(name).deleted[price.row]:
                self._listed(self.w.of(name), price.row)
        t = self.w.of(entry.name)
        return self._result(
            "create", entry, t, price.row, self._event(entry.event("created"), t.render(price.row))
        )

    def create_customers(self, entry: StripeTable, action: dict[str, Any]) -> dict:
        b = self.w.billing
        row = b.new_customer(self._now(), str(action.get("currency", "usd")))
        t = b.customers
        self._listed(t, row)
        patch = {k: action[k] for k in ("name", "email", "metadata") if k in action}
        if patch:
            self._patch(t, row, patch)
        return self._result("create", entry, t, row, self._event("customer.created", t.render(row)))

    def _new_charge(self, customer: int, amount: int, currency: str, invoice: int = -1) -> int:
        w = self.w
        charges = w.of("charges")
        row = w.billing.new_charge(self._now(), customer, amount, currency, invoice=invoice)
        self._listed(charges, row)
        pi_entry = TABLES_BY_NAME["payment_intents"]
        pi = w.generic.make(
            pi_entry, w.of("payment_intents"), self.rng, self._now(), {"latest_charge": row}
        )
        self._listed(w.of("payment_intents"), pi)
        txn = w.balance.add(
            "charge",
            row,
            self._now(),
            amount,
            w.balance.fee(amount, currency),
            currency,
            "charge",
            "charge",
            charges.cols["description"][row],
        )
        charges.cols["balance_transaction"][row] = txn
        self._listed(w.balance.txns, txn)
        charges.invalidate(row)
        return row

    def create_charges(self, entry: StripeTable, action: dict[str, Any]) -> dict:
        customer = self._customer_for(action)
        currency = self.w.of("customers").cols["currency"][customer] if customer >= 0 else "usd"
        amount = int(action.get("amount") or self.rng.randint(100, 99_999))
        row = self._new_charge(customer, amount, currency)
        t = self.w.of("charges")
        return self._result(
            "create",
            entry,
            t,
            row,
            self._event("charge.succeeded", t.render(row)),
            created_ids=[self.w.balance.txns.id_of(t.cols["balance_transaction"][row])],
        )

    def create_invoices(self, entry: StripeTable, action: dict[str, Any]) -> dict:
        b = self.w.billing
        n_lines = int(action.get("lines") or self.rng.choice((1, 2, 3, 5, 12, 25)))
        if not 1 <= n_lines <= 1000:
            raise ValueError("lines must be within 1..1000")
        customer = self._customer_for(action)
        if customer < 0:
            raise ApiError(400, "no customer to invoice")
        currency = b.customers.cols["currency"][customer]
        status = str(action.get("status", "open"))
        now = self._now()
        row = b.new_invoice(now, customer, currency, status, "charge_automatically", "manual")
        items = self.w.of("invoice_items")
        for _ in range(n_lines):
            prices = b.cat.one_time[currency]
            price = prices[self.rng.randrange(len(prices))]
            qty = self.rng.randint(1, 5)
            item = b.invoice_item(now, row, price, qty)
            self._listed(items, item)
            b.add_line(
                row, price, qty, type="invoiceitem", description=price.nickname,
                invoice_item_ref=item,
            )  # fmt: skip
        t = b.invoices
        self._listed(t, row)
        return self._result(
            "create", entry, t, row, self._event("invoice.created", t.render(row)), lines=n_lines
        )

    def create_invoice_items(self, entry: StripeTable, action: dict[str, Any]) -> dict:
        """A pending invoice item (on no invoice yet) for a customer."""
        b = self.w.billing
        customer = self._customer_for(action)
        if customer < 0:
            raise ApiError(400, "no customer to bill")
        prices = b.cat.one_time[b.customers.cols["currency"][customer]]
        price = prices[self.rng.randrange(len(prices))]
        row = b.invoice_item(self._now(), -1, price, int(action.get("quantity") or 1))
        t = self.w.of("invoice_items")
        t.cols["customer"][row] = customer
        self._listed(t, row)
        return self._result(
            "create", entry, t, row, self._event("invoiceitem.created", t.render(row))
        )

    def create_subscriptions(self, entry: StripeTable, action: dict[str, Any]) -> dict:
        b = self.w.billing
        n_items = int(action.get("items") or self.rng.choice((1, 1, 2, 3, 12)))
        if not 1 <= n_items <= 32:
            raise ValueError("items must be within 1..32")
        customer = self._customer_for(action)
        if customer < 0:
            raise ApiError(400, "no customer to subscribe")
        row = b.new_subscription(self.rng, self._now(), customer, n_items)
        t = b.subs
        self._listed(t, row)
        for item in b.items_of.children(row):
            self._listed(b.items, item)
        invoice = t.cols["latest_invoice"][row]
        if invoice >= 0:
            self._listed(b.invoices, invoice)
        return self._result(
            "create",
            entry,
            t,
            row,
            self._event("customer.subscription.created", t.render(row)),
            items=n_items,
        )

    def create_payouts(self, entry: StripeTable, action: dict[str, Any]) -> dict:
        w = self.w
        t = w.of("payouts")
        amount = int(action.get("amount") or self.rng.choice((5000, 20000, 100000)))
        row = w.balance.payout(self._now(), amount, "usd", automatic=False, status="pending")
        self._listed(t, row)
        self._listed(w.balance.txns, t.cols["balance_transaction"][row])
        return self._result("create", entry, t, row, self._event("payout.created", t.render(row)))

    # -- deletions and other changes ---------------------------------------------------------

    def delete(self, entry: StripeTable, table: Table, row: int) -> dict[str, Any]:
        if entry.deleted_event is None:
            raise ValueError(f"Stripe does not delete {entry.name}")
        events: list[dict[str, Any]] = []
        extra: dict[str, Any] = {}
        if entry.name == "customers":
            subs = self.w.of("subscriptions")
            status, customer = subs.cols["status"], subs.cols["customer"]
            mine = [s for s in range(len(subs)) if customer[s] == row]
            canceled = [
                self.cancel_subscriptions(s)
                for s in mine
                if status[s] not in ("canceled", "incomplete_expired")
            ]
            events = [e for r in canceled for e in r["events"]]
            extra["canceled_subscriptions"] = [r["id"] for r in canceled]
        obj = table.render(row)
        table.deleted[row] = 1
        table.remove_key(row)
        events += self._event(entry.deleted_event, obj)
        return self._result("delete", entry, table, row, events, **extra)

    def refund_charges(self, row: int) -> dict[str, Any]:
        w = self.w
        charges = w.of("charges")
        c = charges.cols
        if c["status"][row] != "succeeded" or c["amount_refunded"][row] >= c["amount"][row]:
            raise ApiError(
                400,
                f"Charge {charges.id_of(row)} has already been refunded or failed.",
                code="charge_already_refunded",
            )
        before = self._obj(charges, row)
        entry = TABLES_BY_NAME["refunds"]
        refunds = w.of("refunds")
        refund = w.generic.make(entry, refunds, self.rng, self._now(), {"charge": row}, full=True)
        if refund < 0:
            raise ApiError(400, "nothing left to refund", code="charge_already_refunded")
        r = refunds.cols
        txn = w.balance.add(
            "refund",
            refund,
            self._now(),
            -r["amount"][refund],
            0,
            r["currency"][refund],
            "refund",
            "refund",
            "REFUND FOR CHARGE",
        )
        r["balance_transaction"][refund] = txn
        self._listed(refunds, refund)
        self._listed(w.balance.txns, txn)
        self._refresh(charges, row)
        res = self._changed(
            TABLES_BY_NAME["charges"], row, before, ["charge.refunded", "charge.updated"], "refund"
        )
        res["events"] += self._event("refund.created", refunds.render(refund))
        res["created_ids"] = [refunds.id_of(refund), w.balance.txns.id_of(txn)]
        return res

    def pay_invoices(self, row: int) -> dict[str, Any]:
        t = self.w.of("invoices")
        c = t.cols
        if c["status"][row] not in ("draft", "open"):
            raise ApiError(
                400,
                f"Invoice {t.id_of(row)} is {c['status'][row]}"
                "; only draft or open invoices can be paid.",
                code="invoice_not_editable",
            )
        before = self._obj(t, row)
        events: list[dict[str, Any]] = []
        created: list[str] = []
        if c["total"][row] > 0:
            charge = self._new_charge(c["customer"][row], c["total"][row], c["currency"][row], row)
            c["charge"][row] = charge
            events += self._event("charge.succeeded", self.w.of("charges").render(charge))
            created.append(self.w.of("charges").id_of(charge))
        if c["number"][row] is None:
            c["number"][row] = self.w.billing.number_for(c["customer"][row])
        c["status"][row] = "paid"
        self._refresh(t, row)
        res = self._changed(
            TABLES_BY_NAME["invoices"],
            row,
            before,
            ["invoice.updated", "invoice.paid", "invoice.payment_succeeded"],
            "pay",
        )
        res["events"] = events + res["events"]
        if created:
            res["created_ids"] = created
        return res

    def void_invoices(self, row: int) -> dict[str, Any]:
        t = self.w.of("invoices")
        if t.cols["status"][row] not in ("draft", "open"):
            raise ApiError(
                400, "only draft or open invoices can be voided", code="invoice_not_editable"
            )
        before = self._obj(t, row)
        t.cols["status"][row] = "void"
        self._refresh(t, row)
        return self._changed(
            TABLES_BY_NAME["invoices"], row, before, ["invoice.updated", "invoice.voided"], "void"
        )

    def cancel_subscriptions(self, row: int) -> dict[str, Any]:
        t = self.w.of("subscriptions")
        c = t.cols
        if c["status"][row] in ("canceled", "incomplete_expired"):
            raise ApiError(400, f"Subscription {t.id_of(row)} is already canceled.")
        before = self._obj(t, row)
        now = max(self._now(), t.created[row])
        c["status"][row] = "canceled"
        c["canceled_at"][row] = c["ended_at"][row] = now
        self._refresh(t, row)
        return self._changed(
            TABLES_BY_NAME["subscriptions"],
            row,
            before,
            ["customer.subscription.deleted"],
            "cancel",
        )

    def settle_balance_transactions(self, row: int) -> dict[str, Any]:
        """A pending balance transaction becomes available: Stripe sends no event."""
        t = self.w.of("balance_transactions")
        if t.cols["status"][row] != "pending":
            raise ApiError(400, f"Balance transaction {t.id_of(row)} is not pending.")
        before = self._obj(t, row)
        t.cols["status"][row] = "available"
        self._refresh(t, row)
        return self._changed(TABLES_BY_NAME["balance_transactions"], row, before, [], "settle")


__all__ = ["Admin"]
