"""The read-only Stripe API (``GET /v1/...``), routed from the registry and Stripe's spec.

Every registry table is served at its path: a top-level table as a list (and each object at
``{path}/{id}`` where the spec has that retrieve), a child table as its parent's child list
(``/v1/invoices/{id}/lines``), or as a list filtered by its parent (``?subscription=``,
``?payout=``). Each list accepts exactly the query parameters the spec gives its path; any
other one, ``created`` included where the list has none, is Stripe's 400 ``Received unknown
parameter``. A parameter naming a field filters on it (indexed for columns, else by reading
the objects); ``status`` of subscriptions lists what Stripe lists by default (all but
canceled), ``all`` or ``ended``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson

from stripe_assets.tables import TABLES, TABLES_BY_NAME, StripeTable

from . import spec
from .errors import ApiError, bad_param, mask_key, missing, unknown_param, unknown_url
from .expand import LIST, check, expand, expand_params
from .render import commas, list_bytes
from .store import ChildRel, Pred, Table, page_seq, page_table

if TYPE_CHECKING:
    from .core import Sandbox

MAX_LIMIT = 100
RANGE_OPS = ("gt", "gte", "lt", "lte")
Params = dict[str, str | list[str]]
PAGING = frozenset(("limit", "starting_after", "ending_before", "expand"))
SUBSCRIPTION_DEFAULT_EXCLUDES = frozenset(("canceled",))
SUBSCRIPTION_ENDED = frozenset(("canceled", "incomplete_expired"))
NOT_A_PLATFORM = (
    "Only Stripe Connect platforms can work with other accounts. If you specified a client_id "
    "parameter, make sure it's correct. If you need to setup a Stripe Connect platform, you "
    "can do so at https://dashboard.stripe.com/account/applications/settings."
)


@dataclass
class ListParams:
    """Parsed list parameters: paging, the `created` window and the other filters (with
    their range bounds where the parameter takes ``[gte]``...)."""

    limit: int = 10
    starting_after: str | None = None
    ending_before: str | None = None
    gte: int | None = None
    lt: int | None = None
    extra: dict[str, str | list[str]] = field(default_factory=dict)
    ranges: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)


def parse_query(query: str) -> Params:
    """Stripe-style form query: ``a=1&created[gte]=2&types[]=x&types[]=y``."""
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


def _str(param: str, value: str | list[str]) -> str:
    if isinstance(value, list):
        raise bad_param(param, f"Invalid string: {value}")
    return value


def _tighten(bounds: tuple[int | None, int | None], op: str, t: int) -> tuple:
    gte, lt = bounds
    g, u = {"gt": (t + 1, None), "gte": (t, None), "lt": (None, t), "lte": (None, t + 1)}[op]
    if g is not None:
        gte = g if gte is None else max(gte, g)
    if u is not None:
        lt = u if lt is None else min(lt, u)
    return gte, lt


def parse_list_params(params: Params, allowed: dict[str, spec.Param]) -> ListParams:
    """Validate paging and ranges, and collect the list's own filters; a parameter the spec
    does not give this list is a 400."""
    lp = ListParams()
    for key, value in params.items():
        base, _, sub = key.partition("[")
        sub = sub[:-1] if sub.endswith("]") else sub
        if base not in allowed:
            raise unknown_param(base)
        if key == "limit":
            lp.limit = _int("limit", value)
            if not 1 <= lp.limit <= MAX_LIMIT:
                bound = "greater than or equal to 1" if lp.limit < 1 else "less than or equal"
                bound += "" if lp.limit < 1 else f" to {MAX_LIMIT}"
                raise bad_param(
                    "limit", f"This value must be {bound}.", "parameter_invalid_integer"
                )
        elif key in ("starting_after", "ending_before"):
            if not isinstance(value, str) or not value:
                raise bad_param(
                    key, f"Invalid {key}: must be an object id", "parameter_invalid_empty"
                )
            setattr(lp, key, value)
        elif allowed[base].range and (sub in RANGE_OPS or not sub):
            t = _int(key, value)
            bounds = lp.ranges.get(base, (None, None))
            lp.ranges[base] = _tighten(bounds, sub, t) if sub else (t, t + 1)
        elif sub and not allowed[base].array and not allowed[base].range:
            lp.extra[key] = value  # a sub-field of an object filter (recurring[interval])
        elif sub and allowed[base].range:
            raise unknown_param(key)
        else:
            values = allowed[base].enum
            if values and isinstance(value, str) and value not in values:
                raise bad_param(base, f"Invalid {base}: must be one of {', '.join(values)}")
            lp.extra[base if key.endswith("[]") else key] = value
    if lp.starting_after and lp.ending_before:
        raise ApiError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="starting_after",
            code="parameter_invalid",
        )
    for name, param in allowed.items():
        if param.required and name not in lp.extra:
            raise ApiError(
                400, f"Missing required param: {name}.", code="parameter_missing", param=name
            )
    lp.gte, lp.lt = lp.ranges.pop("created", (None, None))
    return lp


def path_template(path: str) -> str:
    """``/v1/invoices/in_123/lines`` -> ``/v1/invoices/{id}/lines`` (paths no route serves)."""
    parts = path.rstrip("/").split("/")
    if len(parts) >= 3 and parts[1] == "v1":
        out = ["", "v1", parts[2]]
        if len(parts) >= 4:
            out.append("{id}")
            out.extend(parts[4:])
        return "/".join(out)
    return path or "/"


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "([^/]+)", re.escape(path)) + "$")


@dataclass
class Route:
    """A served path: ``kind`` is list, retrieve or children."""

    pattern: re.Pattern[str]
    template: str
    kind: str
    table: Table
    op: spec.Operation
    entry: StripeTable | None = None
    rel: ChildRel | None = None
    by_parent: dict[str, tuple[StripeTable, ChildRel]] = field(default_factory=dict)
    """For a list: query parameter -> the child table (and relation) it lists instead."""


def _spec_path(path: str) -> str:
    """A registry path in the spec's spelling (``{id}`` -> the spec's parameter name)."""
    want = re.sub(r"\{\w+\}", "{}", path)
    for candidate in spec.operations():
        if re.sub(r"\{\w+\}", "{}", candidate) == want:
            return candidate
    raise KeyError(f"{path} is not a GET path of Stripe's spec")


def build_routes(sb: Sandbox) -> list[Route]:
    w = sb.data
    ops = spec.operations()
    routes: dict[str, Route] = {}
    for entry in TABLES:
        if entry.name not in w.served:  # events: the event log answers (``list_events``)
            continue
        served = w.served[entry.name]
        template = _spec_path(entry.path)
        op = ops[template]
        if entry.child is not None and "{" in entry.path:
            routes[template] = Route(
                _pattern(template), entry.path, "children", served.store, op, entry, served.rel
            )
            continue
        route = routes.get(template)
        if route is None:
            route = routes[template] = Route(
                _pattern(template), entry.path, "list", served.store, op, entry
            )
        if entry.child is not None:
            for param in entry.child.params:
                assert served.rel is not None
                route.by_parent[param] = (entry, served.rel)
        elif route.entry is None or route.entry.is_child:
            route.entry = entry
        one = f"{template}/{{}}"
        for candidate, cop in ops.items():
            if re.sub(r"\{\w+\}", "{}", candidate) == one and cop.object == entry.object:
                routes.setdefault(
                    candidate,
                    Route(
                        _pattern(candidate),
                        entry.path + "/{id}",
                        "retrieve",
                        served.store,
                        cop,
                        entry,
                    ),
                )
    return sorted(routes.values(), key=lambda r: -r.template.count("/"))


class Api:
    """Handles one ``/v1`` request; returns (path template, JSON bytes) or raises ApiError."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.w = sb.data
        self.routes = build_routes(sb)
        self.key: str | None = None

    def handle(
        self, method: str, path: str, query: str, key: str | None = None
    ) -> tuple[str, bytes]:
        params = parse_query(query) if query else {}
        paths = expand_params(params) if query and "expand" in query else []
        self.key = key
        template, body, root = self.route(method, path, params)
        if paths:
            checked = check(paths, root, self.w)
            obj = orjson.loads(body)
            expand(obj, checked, root, self._fetch, self.w)
            body = orjson.dumps(obj)
        return template, body

    def template_of(self, path: str) -> str:
        """The path template a request is counted under in the stats (`/v1/charges/{id}`,
        `/v1/checkout/sessions/{id}/line_items`)."""
        path = path.rstrip("/") or path
        for route in self.routes:
            if route.pattern.match(path):
                return re.sub(r"\{\w+\}", "{id}", route.template)
        return path_template(path)

    def _fetch(self, obj_type: str, obj_id: str) -> dict[str, Any]:
        return orjson.loads(self.retrieve(self.w.table(obj_type), obj_id))

    def route(self, method: str, path: str, params: Params) -> tuple[str, bytes, str]:
        """(path template, JSON body, the object type expansion starts from)."""
        path = path.rstrip("/") or path
        if method != "GET":
            if method in ("POST", "DELETE") and any(r.pattern.match(path) for r in self.routes):
                raise ApiError(
                    400,
                    f"The sandbox serves Stripe reads only ({method} {path}); "
                    "change data through POST /_sandbox/mutate.",
                )
            raise unknown_url(method, path)
        if path == "/v1/account":
            self._no_params(params)
            return path, self.sb.account, "account"
        if path.startswith("/v1/accounts/") and path.rsplit("/", 1)[1] == self.w.account_id:
            self._no_params(params)  # the account itself (others are connected accounts)
            return "/v1/accounts/{id}", self.sb.account, "account"
        if path == "/v1/events":
            self._allowed(TABLES_BY_NAME.get("events"), path)
            return path, self.list_events(params), LIST + "event"
        if path.startswith("/v1/events/") and path.count("/") == 3:
            self._no_params(params)
            return "/v1/events/{id}", self.retrieve_event(path.rsplit("/", 1)[1]), "event"
        for route in self.routes:
            m = route.pattern.match(path)
            if not m:
                continue
            self._allowed(route.entry, path)
            if route.kind == "retrieve":
                self._no_params(params, route.op)
                return route.template, self.retrieve(route.table, m.group(1)), route.table.obj
            lp = parse_list_params(params, route.op.params)
            if route.kind == "children":
                assert route.rel is not None and route.entry is not None
                body = self.child_list(route.rel, m.group(1), lp, path, route.entry)
                return route.template, body, LIST + route.table.obj
            return route.template, self.list(route, lp), LIST + route.table.obj
        raise unknown_url(method, path)

    def _allowed(self, entry: StripeTable | None, path: str) -> None:
        """Stripe's 403s: a restricted key without the table's permission, or a Connect
        list on an account that is not a platform."""
        if entry is None:
            return
        cfg = self.sb.cfg
        if entry.connect and not cfg.platform and path.startswith("/v1/accounts"):
            raise ApiError(403, NOT_A_PLATFORM)
        lacks = cfg.restricted_keys.get(self.key or "", ())
        if entry.permission in lacks:
            permission = f"rak_{entry.object.replace('.', '_')}_read"
            raise ApiError(
                403,
                f"The provided key '{mask_key(self.key or '')}' does not have the required "
                f"permissions for this endpoint on account '{self.w.account_id}'. Having the "
                f"'{permission}' permission would allow this request to continue.",
            )

    @staticmethod
    def _no_params(params: Params, op: spec.Operation | None = None) -> None:
        allowed = op.params if op is not None else {}
        for key in params:
            if key.partition("[")[0] not in allowed:
                raise unknown_param(key)

    # -- retrieve ------------------------------------------------------------------------------

    def retrieve(self, table: Table, obj_id: str) -> bytes:
        row = table.row_of(obj_id)
        if row < 0:
            raise missing(table.obj, obj_id)
        if table.deleted[row]:
            return orjson.dumps({"deleted": True, "id": obj_id, "object": table.obj})
        return table.render(row)

    def retrieve_event(self, obj_id: str) -> bytes:
        ev = self.w.events
        row = ev.row_of(obj_id)
        if row < 0 or ev.created[row] < self.sb.retention_floor():
            raise missing("event", obj_id)
        return ev.data[row]

    # -- filters -------------------------------------------------------------------------------

    def _row_of(self, table: Table, value: str | list[str], param: str) -> int:
        row = table.row_of(_str(param, value))
        return row if row >= 0 else -2  # an unknown id matches nothing

    def _filter(self, table: Table, entry: StripeTable | None, lp: ListParams) -> Pred:
        preds: list[Callable[[int], bool]] = []
        if table.obj == "subscription":
            preds.append(self._subscription_status(table, lp.extra.pop("status", None)))
        slow: dict[str, Any] = {}
        for name, value in lp.extra.items():
            col = table.cols.get(name)
            if name in table.refs and col is not None:
                want = self._row_of(table.refs[name], value, name)
                preds.append(lambda r, c=col, v=want: c[r] == v)
            elif name in table.poly:
                kind_col, targets = table.poly[name]
                rows = [t.row_of(_str(name, value)) for t in targets]
                kinds = table.cols[kind_col]
                preds.append(lambda r, c=col, k=kinds, rows=rows: c[r] >= 0 and rows[k[r]] == c[r])
            elif col is not None and name in table.fields.values():
                preds.append(lambda r, c=col, v=value: _matches(c[r], v))
            else:
                slow[name] = value
        for name, bounds in lp.ranges.items():
            slow[name] = bounds
        if slow:
            preds.append(lambda r: _object_matches(orjson.loads(table.render(r)), slow))
        if not preds:
            return None
        if len(preds) == 1:
            return preds[0]
        return lambda r: all(p(r) for p in preds)

    @staticmethod
    def _subscription_status(table: Table, status: str | list[str] | None) -> Callable:
        col = table.cols["status"]
        if status is None:
            return lambda r: col[r] not in SUBSCRIPTION_DEFAULT_EXCLUDES
        want = _str("status", status)
        if want == "all":
            return lambda r: True
        if want == "ended":
            return lambda r: col[r] in SUBSCRIPTION_ENDED
        return lambda r: col[r] == want

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

    def list(self, route: Route, lp: ListParams) -> bytes:
        for param, (entry, rel) in route.by_parent.items():
            if param in lp.extra:
                parent_id = _str(param, lp.extra.pop(param))
                return self._parent_filtered(entry, rel, parent_id, lp, route)
        table = route.table
        pred = self._filter(table, route.entry, lp)
        after, before = self._cursor_key(table, lp)
        rows, has_more = page_table(table, lp.gte, lp.lt, lp.limit, after, before, pred)
        return list_bytes(
            route.entry.path if route.entry else route.template, table.page_parts(rows), has_more
        )

    def _parent_filtered(
        self, entry: StripeTable, rel: ChildRel, parent_id: str, lp: ListParams, route: Route
    ) -> bytes:
        """A list filtered by its parent (``?subscription=``, ``?payout=``)."""
        assert entry.child is not None
        param = next(iter(entry.child.params))
        prow = rel.parent.row_of(parent_id)
        if prow < 0:
            raise missing(rel.parent.obj, parent_id, param, 400)
        name, value = entry.child.parent_filter or (None, None)
        if name is not None and rel.parent.cols[name][prow] != value:
            # As Stripe: balance history can't be filtered on a manual payout.
            raise ApiError(
                400,
                "Balance transaction history can only be filtered on automatic "
                "transfers, not manual.",
                param=param,
                code="parameter_invalid",
            )
        table = rel.child
        pred = self._filter(table, None, lp)
        created = table.created
        if lp.gte is not None or lp.lt is not None:
            lo = lp.gte if lp.gte is not None else -(1 << 62)
            hi = lp.lt if lp.lt is not None else 1 << 62
            inner = pred
            pred = lambda r: lo <= created[r] < hi and (inner is None or inner(r))  # noqa: E731
        return self._child_page(table, rel.children(prow), lp, route.template, pred)

    def child_list(
        self, rel: ChildRel, parent_id: str, lp: ListParams, path: str, entry: StripeTable
    ) -> bytes:
        prow = rel.parent.row_of(parent_id)
        if prow < 0 or rel.parent.deleted[prow]:
            raise missing(rel.parent.obj, parent_id, "id")
        return self._child_page(rel.child, rel.children(prow), lp, path)

    def _child_page(
        self, table: Table, seq: Sequence[int], lp: ListParams, url: str, pred: Pred = None
    ) -> bytes:
        if pred is not None:
            seq = [r for r in seq if pred(r)]
        positions: dict[str, int | None] = {"starting_after": None, "ending_before": None}
        for param in positions:
            cursor = getattr(lp, param)
            if cursor is None:
                continue
            row = table.row_of(cursor)
            try:
                positions[param] = seq.index(row) if row >= 0 else None
            except ValueError:
                positions[param] = None
            if positions[param] is None:
                raise missing(table.obj, cursor, param, 400)
        rows, has_more = page_seq(
            seq, lp.limit, positions["starting_after"], positions["ending_before"]
        )
        return list_bytes(url, table.page_parts(rows), has_more)

    def list_events(self, params: Params) -> bytes:
        lp = parse_list_params(params, spec.operations()["/v1/events"].params)
        ev = self.w.events
        floor = self.sb.retention_floor()
        gte = floor if lp.gte is None else max(lp.gte, floor)
        types: list[str] = []
        if "type" in lp.extra:
            types.append(_str("type", lp.extra["type"]))
        if "types" in lp.extra:
            if types:
                raise ApiError(
                    400, "You may only specify one of these parameters: type, types.", param="types"
                )
            raw = lp.extra["types"]
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


def _matches(value: Any, want: str | list[str]) -> bool:
    """A stored value against a query string value (``true``/``false`` for booleans)."""
    if isinstance(want, list):
        return any(_matches(value, w) for w in want)
    if isinstance(value, bool):
        return want == ("true" if value else "false")
    return value is not None and str(value) == want


def _object_matches(obj: dict[str, Any], filters: dict[str, Any]) -> bool:
    """Filters the sandbox does not index, read off the rendered object."""
    for name, want in filters.items():
        base, _, sub = name.partition("[")
        value = obj.get(base)
        if sub:
            value = value.get(sub.rstrip("]")) if isinstance(value, dict) else None
        if isinstance(want, tuple):
            lo, hi = want
            if not isinstance(value, int) or (lo is not None and value < lo):
                return False
            if hi is not None and value >= hi:
                return False
        elif isinstance(value, dict) and "id" in value:
            if not _matches(value["id"], want):
                return False
        elif not _matches(value, want):
            return False
    return True
