"""JSON rendering of rows, a batch (a page) at a time, from Stripe's example objects.

Every table renders the same way: Stripe's example object of its type (``spec.fixture``)
becomes a template whose fields that vary per row (the table's ``fields``: columns,
references, embedded objects, derived values) are slots; ``Plan`` keeps the constant bytes
between the slots, so a batch of N rows is N joins of constant chunks and per-slot values.
Anything the table does not set stays as Stripe's example has it; a reference to an object
type the sandbox holds that no column sets becomes null (no dangling ids). Inside strings of
the example, its own id (urls, client secrets) becomes the row's id. A parent's embedded child
list (invoice lines, subscription items) is rendered as ``EMBED_MARK``: the table splits the
render there and joins its children's renders in at serving time (``store.Table``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson

from stripe_assets.tables import TABLES

from . import derived, spec
from .store import EMBEDDED_LIMIT, Table

if TYPE_CHECKING:
    from .world import World

_MARK = re.compile(rb'"@@=(\w+)@@"|@@(\w+)@@')
NULL = b"null"
EMBED_MARK = b"\0"
"""Where an embedded list's data goes in a parent's render (never in JSON output)."""

Slot = Callable[[Sequence[int]], Sequence[bytes]]


def gather(rows: Sequence[int]) -> Callable[[Sequence[Any]], Sequence[Any]]:
    """``g(column)`` -> the column's values at ``rows`` (a tuple, gathered in C)."""
    if len(rows) == 1:
        r = rows[0]
        return lambda col: (col[r],)
    if not rows:
        return lambda col: ()
    return itemgetter(*rows)


def dumps_all(values: Iterable[Any]) -> list[bytes]:
    dumps = orjson.dumps
    return [dumps(v) for v in values]


class Plan:
    """A template split at its markers: constant chunks around ``len(names)`` slots."""

    __slots__ = ("consts", "names", "stride")

    def __init__(self, raw: bytes) -> None:
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

    def render(self, n: int, values: dict[str, Sequence[bytes]]) -> list[bytes]:
        """``n`` objects; ``values[name]`` holds the n values of that slot (JSON bytes, or raw
        string content)."""
        if not n:
            return []
        stride = self.stride
        out = self.consts * n
        for i, name in enumerate(self.names):
            out[2 * i + 1 :: stride] = values[name]
        return list(map(b"".join, zip(*[iter(out)] * stride, strict=False)))


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


def _set(obj: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = obj
    for name in parents:
        child = node.get(name)
        if not isinstance(child, dict):
            child = node[name] = {}
        node = child
    node[leaf] = value


class TableRenderer:
    """Renders rows of one table (installed as ``table.render_rows``)."""

    def __init__(self, table: Table, created_field: str, held: set[str]) -> None:
        self.table = table
        obj = spec.fixture(table.obj) if spec.has_fixture(table.obj) else {"id": "x"}
        example_id = str(obj.get("id", ""))
        nullable, omitted = spec.nullable(table.obj), spec.omitted_when_null(table.obj)
        for prop, targets in spec.expandable(table.obj).items():
            if isinstance(obj.get(prop), str) and held.intersection(targets):
                # a reference the sandbox would not resolve: null, or left out like Stripe
                if prop in nullable:
                    obj[prop] = None
                elif prop in omitted:
                    del obj[prop]
        slots: dict[str, Slot] = {"id": self._ids(quoted=True), "rid": self._ids(quoted=False)}
        _set(obj, "id", "@@=id@@")
        if created_field in obj:  # (line items have none: they take their invoice's)
            _set(obj, created_field, "@@=created@@")
            slots["created"] = self._created()
        fields = {**derived.fields_for(table), **table.fields}
        for i, (path, source) in enumerate(sorted(fields.items())):
            name = f"f{i}"
            _set(obj, path, f"@@={name}@@")
            slots[name] = source if callable(source) else self._column(source)
        if table.embed is not None and table.embed_field:
            listed = obj.get(table.embed_field)
            listed = dict(listed) if isinstance(listed, dict) else {"object": "list"}
            listed.update(
                data=["@@=embed@@"], has_more="@@=embed_more@@", total_count="@@=embed_total@@"
            )
            obj[table.embed_field] = listed
            slots.update(self._embedded())
        self.template = obj
        self.example_id = example_id.encode() if len(example_id) > 4 else None
        self.all_slots = slots
        omitted = spec.omitted_when_null(table.obj)
        self.omittable = [
            (path, table.cols[source], source in table.refs or source in table.inline)
            for path, source in table.fields.items()
            if path in omitted and isinstance(source, str) and source in table.cols
        ]
        """Fields Stripe leaves out when they have no value (rather than null): a row with
        None there renders from a template without them."""
        self.plans: dict[tuple[bool, ...], tuple[Plan, dict[str, Slot]]] = {}
        self._plan(tuple(False for _ in self.omittable))

    def _plan(self, shape: tuple[bool, ...]) -> tuple[Plan, dict[str, Slot]]:
        found = self.plans.get(shape)
        if found is None:
            obj = self.template
            if any(shape):
                obj = dict(obj)
                for (path, _, _), omit in zip(self.omittable, shape, strict=True):
                    if omit:
                        obj.pop(path, None)
            raw = orjson.dumps(obj)
            if self.example_id:
                raw = raw.replace(self.example_id, b"@@rid@@")
            plan = Plan(raw)
            slots = {name: self.all_slots[name] for name in dict.fromkeys(plan.names)}
            found = self.plans[shape] = (plan, slots)
        return found

    def __call__(self, rows: Sequence[int]) -> list[bytes]:
        if not self.omittable:
            return self._render(rows, ())
        cols = [(col, -1 if is_ref else None) for _, col, is_ref in self.omittable]
        shapes = [tuple(col[r] == none for col, none in cols) for r in rows]
        if len(set(shapes)) == 1:
            return self._render(rows, shapes[0])
        out: list[bytes] = [b""] * len(rows)
        groups: dict[tuple[bool, ...], list[int]] = {}
        for i, shape in enumerate(shapes):
            groups.setdefault(shape, []).append(i)
        for shape, idx in groups.items():
            for i, b in zip(idx, self._render([rows[i] for i in idx], shape), strict=True):
                out[i] = b
        return out

    def _render(self, rows: Sequence[int], shape: tuple[bool, ...]) -> list[bytes]:
        plan, slots = self._plan(shape)
        return plan.render(len(rows), {name: f(rows) for name, f in slots.items()})

    # -- slot makers --------------------------------------------------------------------------

    def _ids(self, quoted: bool) -> Slot:
        table = self.table

        def ids(rows: Sequence[int]) -> Sequence[bytes]:
            return gather(rows)(table.quoted_ids() if quoted else table.ids)

        return ids

    def _created(self) -> Slot:
        created = self.table.created

        def stamps(rows: Sequence[int]) -> Sequence[bytes]:
            return [b"%d" % t for t in gather(rows)(created)]

        return stamps

    def _column(self, name: str) -> Slot:
        table = self.table
        col = table.cols[name]
        if name in table.refs:
            target = table.refs[name]

            def reference(rows: Sequence[int]) -> Sequence[bytes]:
                return gather(gather(rows)(col))(target.quoted_ids())

            return reference
        if name in table.inline:
            target = table.inline[name]
            as_list = name in table.inline_lists

            def embedded(rows: Sequence[int]) -> Sequence[bytes]:
                found = gather(rows)(col)
                present = [r for r in found if r >= 0]
                renders = iter(target.render_many(present)) if present else iter(())
                if as_list:
                    return [b"[" + next(renders) + b"]" if r >= 0 else b"[]" for r in found]
                return [next(renders) if r >= 0 else NULL for r in found]

            return embedded
        if name in table.poly:
            kind_col, targets = table.poly[name]
            kinds = table.cols[kind_col]

            def polymorphic(rows: Sequence[int]) -> Sequence[bytes]:
                g = gather(rows)
                return [
                    targets[k].quoted_ids()[r] if k >= 0 else NULL
                    for k, r in zip(g(kinds), g(col), strict=True)
                ]

            return polymorphic

        def plain(rows: Sequence[int]) -> Sequence[bytes]:
            return dumps_all(gather(rows)(col))

        return plain

    def _embedded(self) -> dict[str, Slot]:
        rel = self.table.embed
        assert rel is not None
        counts = rel.count
        true, false = b"true", b"false"

        def marks(rows: Sequence[int]) -> Sequence[bytes]:
            return [EMBED_MARK] * len(rows)

        def more(rows: Sequence[int]) -> Sequence[bytes]:
            return [true if counts(r) > EMBEDDED_LIMIT else false for r in rows]

        def total(rows: Sequence[int]) -> Sequence[bytes]:
            return [b"%d" % counts(r) for r in rows]

        return {"embed": marks, "embed_more": more, "embed_total": total}


def account_bytes(w: World) -> bytes:
    a = spec.fixture("account")
    a.update(
        id=w.account_id,
        created=w.start - 365 * 86_400,
        email="sandbox@example.com",
        charges_enabled=True,
        payouts_enabled=True,
        details_submitted=True,
    )
    a["business_profile"]["name"] = "Stripe Sandbox"
    a["settings"]["dashboard"]["display_name"] = "Stripe Sandbox"
    a["external_accounts"]["url"] = f"/v1/accounts/{w.account_id}/external_accounts"
    a["requirements"]["currently_due"] = []
    a["requirements"]["eventually_due"] = []
    a["requirements"]["disabled_reason"] = None
    return orjson.dumps(a)


def install(w: World) -> None:
    """A renderer for every table of the world; embedded child lists from the registry."""
    for entry in TABLES:
        link = entry.child
        if link is not None and link.embedded_field:
            parent = w.rels[entry.name].parent
            parent.embed = w.rels[entry.name]
            parent.embed_field = link.embedded_field
    created_fields = {t.object: t.created_field for t in TABLES}
    held = set(w.tables)
    for table in w.all_tables():
        table.render_rows = TableRenderer(table, created_fields.get(table.obj, "created"), held)


__all__ = ["EMBED_MARK", "Plan", "commas", "install", "list_bytes", "repeat"]
