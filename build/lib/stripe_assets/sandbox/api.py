"""The read-only Stripe API (``GET /v1/...``): routing, parameter checks, list pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from .data import INVOICE_STATUS, PAYOUT_STATUS, SUB_STATUS
from .errors import ApiError, bad_param, missing, unknown_param, unknown_url
from .expand import HELD, LIST, check, expand, expand_params
from .render import commas, list_bytes
from .store import Pred, Table, page_seq, page_table

if TYPE_CHECKING:
    from .core import Sandbox

MAX_LIMIT = 100
ROOTS = {
    "/v1/account": "account",
    "/v1/accounts/{id}": "account",
    "/v1/events": LIST + "event",
    "/v1/events/{id}": "event",
    "/v1/invoices/{id}/lines": LIST + "line_item",
    "/v1/subscription_items": LIST + "subscription_item",
    "/v1/subscription_items/{id}": "subscription_item",
}
"""Object type served per path template where the table name does not give it."""
RANGE_OPS = ("gt", "gte", "lt", "lte")
SUB_STATUS_FILTERS = {*SUB_STATUS, "all", "ended"}
Params = dict[str, str | list[str]]


@dataclass
class ListParams:
    """Parsed common list parameters."""

    limit: int = 10
    starting_after: str | None = None
    ending_before: str | None = None
    gte: int | None = None
    lt: int | None = None
    extra: dict[str, str | list[str]] = field(default_factory=dict)


def parse_query(query: str) -> Params:
    """Stripe-style form query: ``a=1&created[gte]=2&types[]=x&types[]=y``."""
    from urllib.parse import parse_qsl

    out: Params = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    except ValueError as exc:
        raise ApiError(400, f"Invalid query string: {exc}") from None
    for k, v in pairs:
        if k.endswith("[]"):
            lst = out.setdefault(k, [])
            if isinstance(lst, list):
                lst.append(v)
        else:
            out[k] = v
    return out


def _int(param: str, value: str | list[str]) -> int:
    if isinstance(value, list) or not value.lstrip("-").isdigit():
        raise bad_param(param, f"Invalid integer: {value}", "parameter_invalid_integer")
    return int(value)


def parse_list_params(params: Params, allowed: frozenset[str], created: bool = True) -> ListParams:
    """Validate limit/cursors/created and collect the endpoint's own filters."""
    lp = ListParams()
    gte: int | None = None
    lt: int | None = None
    for key, value in params.items():
        if key == "limit":
            lp.limit = _int("limit", value)
            if lp.limit < 1:
                raise bad_param(
                    "limit",
                    "This value must be greater than or equal to 1.",
                    "parameter_invalid_integer",
                )
            if lp.limit > MAX_LIMIT:
                raise bad_param(
                    "limit",
                    f"This value must be less than or equal to {MAX_LIMIT}.",
                    "parameter_invalid_integer",
                )
        elif key in ("starting_after", "ending_before"):
            if not isinstance(value, str) or not value:
                raise bad_param(
                    key, f"Invalid {key}: must be an object id", "parameter_invalid_empty"
                )
            setattr(lp, key, value)
        elif created and key == "created":
            t = _int("created", value)
            gte, lt = _tighten(gte, lt, t, t + 1)
        elif created and key.startswith("created[") and key.endswith("]"):
            op = key[8:-1]
            if op not in RANGE_OPS:
                raise unknown_param(key)
            t = _int(key, value)
            if op == "gt":
                gte, lt = _tighten(gte, lt, t + 1, None)
            elif op == "gte":
                gte, lt = _tighten(gte, lt, t, None)
            elif op == "lt":
                gte, lt = _tighten(gte, lt, None, t)
            else:
                gte, lt = _tighten(gte, lt, None, t + 1)
        elif key in allowed:
            lp.extra[key] = value
        else:
            raise unknown_param(key)
    if lp.starting_after and lp.ending_before:
        raise ApiError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="starting_after",
            code="parameter_invalid",
        )
    lp.gte, lp.lt = gte, lt
    return lp


def _tighten(gte: int | None, lt: int | None, g: int | None, t: int | None) -> tuple:
    if g is not None:
        gte = g if gte is None else max(gte, g)
    if t is not None:
        lt = t if lt is None else min(lt, t)
    return gte, lt


def _str(param: str, value: str | list[str]) -> str:
    if isinstance(value, list):
        raise bad_param(param, f"Invalid string: {value}")
    return value


@dataclass
class Resource:
    """A top-level listable resource."""

    table: str
    url: str
    filters: frozenset[str] = frozenset()


RESOURCES = {
    "charges": Resource("charges", "/v1/charges", frozenset({"customer"})),
    "customers": Resource("customers", "/v1/customers"),
    "invoices": Resource(
        "invoices", "/v1/invoices", frozenset({"customer", "subscription", "status"})
    ),
    "subscriptions": Resource(
        "subscriptions", "/v1/subscriptions", frozenset({"customer", "status"})
    ),
    "payouts": Resource("payouts", "/v1/payouts", frozenset({"status"})),
    "balance_transactions": Resource(
        "balance_transactions", "/v1/balance_transactions", frozenset({"payout", "type"})
    ),
}


class Api:
    """Handles one ``/v1`` request; returns (path template, JSON bytes) or raises ApiError."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.d = sb.data

    def handle(self, method: str, path: str, query: str) -> tuple[str, bytes]:
        params = parse_query(query) if query else {}
        paths = expand_params(params) if query and "expand" in query else []
        template, body = self.route(method, path, params)
        if paths:
            root = ROOTS.get(template) or self.d.tables[template.split("/")[2]].obj
            if template not in ROOTS and template.count("/") == 2:
                root = LIST + root
            checked = check(paths, root)
            obj = orjson.loads(body)
            expand(obj, checked, root, self._fetch)
            body = orjson.dumps(obj)
        return template, body

    def _fetch(self, obj_type: str, obj_id: str) -> dict[str, Any]:
        return orjson.loads(self.retrieve(self.d.tables[HELD[obj_type]], obj_id))

    def route(self, method: str, path: str, params: Params) -> tuple[str, bytes]:
        """(path template, JSON body) of a request; raises ApiError."""
        parts = path.rstrip("/").split("/")[2:] if path != "/v1/" else []
        if method != "GET":
            if (
                method in ("POST", "DELETE")
                and parts
                and parts[0] in (*RESOURCES, "events", "subscription_items")
            ):
                raise ApiError(
                    400,
                    f"The sandbox serves Stripe reads only ({method} {path}); "
                    "change data through POST /_sandbox/mutate.",
                )
            raise unknown_url(method, path)
        n = len(parts)
        if n == 1 and parts[0] == "account":
            self._no_params(params, frozenset())
            return "/v1/account", self.sb.renderer.account
        if n == 2 and parts[0] == "accounts":
            self._no_params(params, frozenset())
            if parts[1] != self.d.account_id:
                raise missing("account", parts[1])
            return "/v1/accounts/{id}", self.sb.renderer.account
        if not parts or parts[0] == "":
            raise unknown_url(method, path)
        name = parts[0]
        if name in RESOURCES:
            res = RESOURCES[name]
            if n == 1:
                return res.url, self.list_resource(res, params)
            if n == 2:
                self._no_params(params, frozenset())
                return res.url + "/{id}", self.retrieve(self.d.tables[res.table], parts[1])
            if n == 3 and name == "invoices" and parts[2] == "lines":
                return "/v1/invoices/{id}/lines", self.invoice_lines(parts[1], params)
        elif name == "subscription_items":
            if n == 1:
                return "/v1/subscription_items", self.subscription_items(params)
            if n == 2:
                self._no_params(params, frozenset())
                return "/v1/subscription_items/{id}", self.retrieve(self.d.items, parts[1])
        elif name == "events":
            if n == 1:
                return "/v1/events", self.list_events(params)
            if n == 2:
                self._no_params(params, frozenset())
                return "/v1/events/{id}", self.retrieve_event(parts[1])
        raise unknown_url(method, path)

    @staticmethod
    def _no_params(params: Params, allowed: frozenset[str]) -> None:
        for key in params:
            if key not in allowed:
                raise unknown_param(key)

    # -- retrieve ------------------------------------------------------------------------------

    def retrieve(self, table: Table, obj_id: str) -> bytes:
        row = table.row_of(obj_id)
        if row < 0:
            raise missing(table.obj, obj_id)
        if table.deleted[row]:
            return (
                b'{"deleted":true,"id":"'
                + obj_id.encode()
                + b'","object":"'
                + table.obj.encode()
                + b'"}'
            )
        return table.render(row)

    def retrieve_event(self, obj_id: str) -> bytes:
        ev = self.d.events
        row = ev.row_of(obj_id)
        if row < 0 or ev.created[row] < self.sb.retention_floor():
            raise missing("event", obj_id)
        return ev.data[row]

    # -- lists ---------------------------------------------------------------------------------

    def _cursor_key(self, table: Table, lp: ListParams) -> tuple[int | None, int | None]:
        after = before = None
        if lp.starting_after is not None:
            row = table.row_of(lp.starting_after)
            if row < 0:
                raise missing(table.obj, lp.starting_after, "starting_after", 400)
            after = table.key(row)
        if lp.ending_before is not None:
            row = table.row_of(lp.ending_before)
            if row < 0:
                raise missing(table.obj, lp.ending_before, "ending_before", 400)
            before = table.key(row)
        return after, before

    def _ref_row(self, table: Table, value: str | list[str], param: str) -> int:
        row = table.row_of(_str(param, value))
        return row if row >= 0 else -2  # an unknown id matches nothing

    def _filters(self, res: Resource, lp: ListParams) -> Pred:
        preds: list[Callable[[int], bool]] = []
        d = self.d
        table = d.tables[res.table]
        status = lp.extra.get("status")
        if res.table == "subscriptions":
            want = _str("status", status) if status is not None else None
            if want is not None and want not in SUB_STATUS_FILTERS:
                raise bad_param(
                    "status",
                    f"Invalid status: must be one of {', '.join(sorted(SUB_STATUS_FILTERS))}",
                )
            col = table.cols["status"]
            canceled = SUB_STATUS.index("canceled")
            if want is None:
                preds.append(lambda r: col[r] != canceled)
            elif want == "ended":
                ended = {canceled, SUB_STATUS.index("incomplete_expired")}
                preds.append(lambda r: col[r] in ended)
            elif want != "all":
                code = SUB_STATUS.index(want)
                preds.append(lambda r: col[r] == code)
        elif status is not None:
            names = INVOICE_STATUS if res.table == "invoices" else PAYOUT_STATUS
            want = _str("status", status)
            if want not in names:
                raise bad_param("status", f"Invalid status: must be one of {', '.join(names)}")
            col, code = table.cols["status"], names.index(want)
            preds.append(lambda r: col[r] == code)
        if "customer" in lp.extra:
            ccol, crow = (
                table.cols["customer"],
                self._ref_row(d.customers, lp.extra["customer"], "customer"),
            )
            preds.append(lambda r: ccol[r] == crow)
        if "subscription" in lp.extra:
            scol, srow = (
                table.cols["sub"],
                self._ref_row(d.subscriptions, lp.extra["subscription"], "subscription"),
            )
            preds.append(lambda r: scol[r] == srow)
        if "type" in lp.extra and _str("type", lp.extra["type"]) != "charge":
            preds.append(lambda r: False)  # every sandbox balance transaction is a charge
        if not preds:
            return None
        if len(preds) == 1:
            return preds[0]
        return lambda r: all(p(r) for p in preds)

    def list_resource(self, res: Resource, params: Params) -> bytes:
        lp = parse_list_params(params, res.filters)
        table = self.d.tables[res.table]
        if res.table == "balance_transactions" and "payout" in lp.extra:
            return self.payout_transactions(lp)
        pred = self._filters(res, lp)
        after, before = self._cursor_key(table, lp)
        rows, has_more = page_table(table, lp.gte, lp.lt, lp.limit, after, before, pred)
        return list_bytes(res.url, table.page_parts(rows), has_more)

    def _child_page(
        self, table: Table, seq: range | list[int], lp: ListParams, url: str, pred: Pred = None
    ) -> bytes:
        if pred is not None:
            seq = [r for r in seq if pred(r)]
        after = before = None
        for param in ("starting_after", "ending_before"):
            cursor = getattr(lp, param)
            if cursor is None:
                continue
            row = table.row_of(cursor)
            try:
                pos = seq.index(row) if row >= 0 else -1
            except ValueError:
                pos = -1
            if pos < 0:
                raise missing(table.obj, cursor, param, 400)
            if param == "starting_after":
                after = pos
            else:
                before = pos
        rows, has_more = page_seq(seq, lp.limit, after, before)
        return list_bytes(url, table.page_parts(rows), has_more)

    def invoice_lines(self, invoice_id: str, params: Params) -> bytes:
        lp = parse_list_params(params, frozenset(), created=False)
        inv = self.d.invoices.row_of(invoice_id)
        if inv < 0:
            raise missing("invoice", invoice_id, "invoice")
        return self._child_page(
            self.d.lines, self.d.invoice_lines.children(inv), lp, f"/v1/invoices/{invoice_id}/lines"
        )

    def subscription_items(self, params: Params) -> bytes:
        lp = parse_list_params(params, frozenset({"subscription"}), created=False)
        if "subscription" not in lp.extra:
            raise ApiError(
                400,
                "Missing required param: subscription.",
                code="parameter_missing",
                param="subscription",
            )
        sub_id = _str("subscription", lp.extra["subscription"])
        srow = self.d.subscriptions.row_of(sub_id)
        if srow < 0:
            raise missing("subscription", sub_id, "subscription", 400)
        return self._child_page(
            self.d.items, self.d.sub_items.children(srow), lp, "/v1/subscription_items"
        )

    def payout_transactions(self, lp: ListParams) -> bytes:
        po_id = _str("payout", lp.extra["payout"])
        prow = self.d.payouts.row_of(po_id)
        if prow < 0:
            raise missing("payout", po_id, "payout", 400)
        if not self.d.payouts.cols["automatic"][prow]:
            # As Stripe: balance history can't be filtered on a manual payout.
            raise ApiError(
                400,
                "Balance transaction history can only be filtered on automatic "
                "transfers, not manual.",
                param="payout",
                code="parameter_invalid",
            )
        created = self.d.txns.created
        gte, lt = lp.gte, lp.lt
        preds: list[Callable[[int], bool]] = []
        if gte is not None or lt is not None:
            lo = gte if gte is not None else -(1 << 62)
            hi = lt if lt is not None else 1 << 62
            preds.append(lambda r: lo <= created[r] < hi)
        if "type" in lp.extra and _str("type", lp.extra["type"]) != "charge":
            preds.append(lambda r: False)
        pred = (lambda r: all(p(r) for p in preds)) if preds else None
        return self._child_page(
            self.d.txns, self.d.payout_txns.children(prow), lp, "/v1/balance_transactions", pred
        )

    def list_events(self, params: Params) -> bytes:
        lp = parse_list_params(params, frozenset({"type", "types[]", "delivery_success"}))
        ev = self.d.events
        floor = self.sb.retention_floor()
        gte = floor if lp.gte is None else max(lp.gte, floor)
        types: list[str] = []
        if "type" in lp.extra:
            types.append(_str("type", lp.extra["type"]))
        if "types[]" in lp.extra:
            if types:
                raise ApiError(
                    400, "You may only specify one of these parameters: type, types.", param="types"
                )
            raw = lp.extra["types[]"]
            types = list(raw) if isinstance(raw, list) else [raw]
            if len(types) > 20:
                raise bad_param("types", "You may pass at most 20 types.")
        pred: Pred = None
        if types:
            exact = {t for t in types if not t.endswith("*")}
            prefixes = tuple(t[:-1] for t in types if t.endswith("*"))
            tcol = ev.types
            pred = lambda r: tcol[r] in exact or (bool(prefixes) and tcol[r].startswith(prefixes))  # noqa: E731
        after = before = None
        for param in ("starting_after", "ending_before"):
            cursor = getattr(lp, param)
            if cursor is None:
                continue
            row = ev.row_of(cursor)
            if row < 0 or ev.created[row] < floor:
                raise missing("event", cursor, param, 400)
            if param == "starting_after":
                after = ev.keys[row]
            else:
                before = ev.keys[row]
        rows, has_more = page_table(ev, gte, lp.lt, lp.limit, after, before, pred)
        return list_bytes("/v1/events", commas([ev.data[r] for r in rows]), has_more)
