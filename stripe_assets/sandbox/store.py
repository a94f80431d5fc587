"""Compact columnar object store: sorted keys for newest-first paging, child ranges, counts.

A row's sort key is ``created << SHIFT | row``, so ``keys`` (an ``array('q')``) orders rows by
``created`` with ties broken by row number, and a created window is two bisects. Every row's
JSON is rendered once (``Table.flush``, at start-up) and re-rendered only when the row changes,
so a page is a C-level gather and one join of stored bytes.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import Any

from .ids import IdCodec

SHIFT = 30
ROW_MASK = (1 << SHIFT) - 1

Pred = Callable[[int], bool] | None


class Table:
    """One resource: per-row columns in arrays, the sorted keys of listable rows, and every
    row's rendered JSON (``frags``), kept current as rows change.

    A table with an embedded child list (``embed``: invoice lines, subscription items) keeps
    each row's render split around the list's ``data``: ``frags[row]`` before it, ``tails[row]``
    after it; a page joins them with the children's ``frags``.
    """

    def __init__(self, name: str, obj: str, codec: IdCodec) -> None:
        self.name = name
        self.obj = obj
        self.codec = codec
        self.created = array("q")
        self.keys = array("q")
        self.deleted = bytearray()
        self.cols: dict[str, list[Any]] = {}
        """Per-row values by column name: JSON values, or rows of another table (-1: none)
        for the columns named in ``refs``/``inline``/``poly``."""
        self.refs: dict[str, Table] = {}
        """Reference columns: the row of the referenced object, rendered as its id."""
        self.inline: dict[str, Table] = {}
        """Embedding columns: the row of another object, rendered as that whole object."""
        self.inline_lists: set[str] = set()
        """Embedding columns rendered as a list of that one object (or an empty list)."""
        self.poly: dict[str, tuple[str, tuple[Table, ...]]] = {}
        """Polymorphic references: column -> (kind column, the tables a kind indexes)."""
        self.defaults: dict[str, Any] = {}
        self.fields: dict[str, str | Callable[[Sequence[int]], list[bytes]]] = {}
        """JSON path in the object -> the column rendered there (or a function rendering the
        rows' values as JSON bytes). Everything else is Stripe's example object."""
        self.patches: dict[int, dict[str, Any]] = {}
        self.overrides: dict[int, bytes] = {}
        """Whole renders of patched rows (they win over ``frags``)."""
        self.frags: list[bytes] = []
        self.tails: list[bytes] = []
        self.stale: set[int] = set()
        """Rendered rows whose columns changed since (re-rendered by ``flush``)."""
        self.embed: ChildRel | None = None
        self.embed_field: str | None = None
        self.render_rows: Callable[[Sequence[int]], list[bytes]] = _unset_renderer
        """Renders rows (in one batch) from their columns; for an ``embed`` table each render
        holds one NUL byte where the embedded list's data goes."""
        self.ids: list[bytes] = []
        """Every row's id as bytes (kept in step with ``created`` by ``sync_ids``)."""
        self.qids: list[bytes] | None = None
        """``b'"<id>"'`` per row then ``b"null"``, so ``qids[row]`` is a JSON reference and
        ``qids[-1]`` is null (built on demand by ``quoted_ids``)."""

    def __len__(self) -> int:
        return len(self.created)

    def add(
        self,
        name: str,
        default: Any = None,
        *,
        ref: Table | None = None,
        inline: Table | None = None,
        path: str | None = None,
    ) -> list[Any]:
        """Create (or return) a column, rendered at ``path`` (default: its name; "" renders
        nowhere). A reference column's default is -1 (none)."""
        if name not in self.cols:
            if ref is not None or inline is not None:
                default = -1
            self.cols[name] = [default] * len(self.created)
            self.defaults[name] = default
            if ref is not None:
                self.refs[name] = ref
            if inline is not None:
                self.inline[name] = inline
            if path != "":
                self.fields[path or name] = name
        return self.cols[name]

    def append(self, created: int, **values: Any) -> int:
        """A new row (its key not yet listed: ``add_key`` or ``finish_keys``)."""
        row = len(self.created)
        self.created.append(created)
        for name, col in self.cols.items():
            col.append(values.get(name, self.defaults[name]))
        self.deleted.append(0)
        return row

    def key(self, row: int) -> int:
        return (self.created[row] << SHIFT) | row

    def id_of(self, row: int) -> str:
        return self.codec.encode(row)

    def sync_ids(self) -> list[bytes]:
        """Encode the ids of rows added since the last call (all of them the first time)."""
        ids = self.ids
        n, have = len(self.created), len(ids)
        if have < n:
            enc = self.codec.encode
            new = [enc(r).encode() for r in range(have, n)]
            ids.extend(new)
            if self.qids is not None:
                self.qids[-1:] = [b'"%b"' % x for x in new] + [b"null"]
        return ids

    def quoted_ids(self) -> list[bytes]:
        """``qids``, built on first use (renderers that reference this table ask for it)."""
        if self.qids is None:
            self.sync_ids()
            self.qids = [b'"%b"' % x for x in self.ids] + [b"null"]
        elif len(self.ids) < len(self.created):
            self.sync_ids()
        return self.qids

    def row_of(self, obj_id: str) -> int:
        """Row for an id of this table, -1 if it is not one."""
        row = self.codec.decode(obj_id)
        return row if 0 <= row < len(self.created) else -1

    # -- renders -------------------------------------------------------------------------------

    def flush(self, batch: int = 4096) -> None:
        """Render the rows added or invalidated since the last call (every row the first
        time), ``batch`` rows per renderer call."""
        if self.embed is not None:
            self.embed.child.flush(batch)
        if len(self.ids) < len(self.created):
            self.sync_ids()
        have, n = len(self.frags), len(self.created)
        if not self.stale and have == n:
            return
        todo = sorted(self.stale)
        self.stale.clear()
        if have < n:
            self.frags.extend(repeat(b"", n - have))
            if self.embed is not None:
                self.tails.extend(repeat(b"", n - have))
            todo.extend(range(have, n))
        frags, tails = self.frags, self.tails
        for i in range(0, len(todo), batch):
            rows = todo[i : i + batch]
            renders = self.render_rows(rows)
            if self.embed is None:
                if rows[-1] - rows[0] == len(rows) - 1:  # ``todo`` is sorted and unique
                    frags[rows[0] : rows[-1] + 1] = renders
                else:
                    for r, b in zip(rows, renders, strict=True):
                        frags[r] = b
            else:
                for r, (head, nul, tail) in zip(
                    rows, map(bytes.partition, renders, repeat(b"\0")), strict=True
                ):
                    if not nul:
                        raise AssertionError(f"{self.name}: render lacks its embed marker")
                    frags[r] = head
                    tails[r] = tail

    def invalidate(self, row: int) -> None:
        """The row's columns changed: drop its override and re-render it on next use."""
        self.overrides.pop(row, None)
        if row < len(self.frags):
            self.stale.add(row)

    def render(self, row: int) -> bytes:
        """JSON bytes of a row (its override when patched)."""
        return self.render_many((row,))[0]

    def render_row(self, row: int) -> bytes:
        """JSON bytes of a row from its columns, ignoring any override."""
        return self.render_many((row,), overrides=False)[0]

    def render_many(self, rows: Sequence[int], overrides: bool = True) -> list[bytes]:
        """``[render(r) for r in rows]``."""
        parts = self.page_parts(rows, overrides)
        if self.embed is None:
            return parts[::2]
        return list(map(b"".join, zip(parts[::4], parts[1::4], parts[2::4], strict=True)))

    def page_parts(self, rows: Sequence[int], overrides: bool = True) -> list[bytes]:
        """Pieces whose concatenation is the renders of ``rows`` separated by commas (a list
        page's ``data``), gathered from ``frags`` with C-level operations so that the page is
        copied once, by its final join. Per row: ``render, ","`` or, with ``embed``,
        ``head, children, tail, ","`` (the last comma left out)."""
        n = len(rows)
        if not n:
            return []
        rel = self.embed
        if (
            self.stale
            or len(self.frags) < len(self.created)
            or (
                rel is not None
                and (rel.child.stale or len(rel.child.frags) < len(rel.child.created))
            )
        ):
            self.flush()
        g = itemgetter(*rows) if n > 1 else _one(rows[0])
        if rel is None:
            step = 2
            out = [b","] * (2 * n - 1)
            out[::2] = g(self.frags)
        else:
            if rel.child.overrides:
                raise NotImplementedError("embedded children cannot be patched")
            step = 4
            child = rel.child.frags
            kids = map(rel.children, rows)
            out = [b","] * (4 * n - 1)
            out[::4] = g(self.frags)
            out[1::4] = [b",".join([child[k] for k in ks[:EMBEDDED_LIMIT]]) for ks in kids]
            out[2::4] = g(self.tails)
        over = self.overrides
        if overrides and over and any(map(over.__contains__, rows)):
            for i, r in enumerate(rows):
                b = over.get(r)
                if b is not None:
                    out[i * step] = b
                    if step == 4:
                        out[i * 4 + 1] = out[i * 4 + 2] = b""
        return out

    # -- keys ----------------------------------------------------------------------------------

    def finish_keys(self) -> None:
        """Build ``keys`` from ``created`` (every row not deleted is listable)."""
        deleted = self.deleted
        ks = [(c << SHIFT) | i for i, c in enumerate(self.created) if not deleted[i]]
        ks.sort()
        self.keys = array("q", ks)

    def add_key(self, row: int) -> None:
        k = self.key(row)
        if self.keys and k > self.keys[-1]:
            self.keys.append(k)
        else:
            insort(self.keys, k)

    def remove_key(self, row: int) -> None:
        k = self.key(row)
        i = bisect_left(self.keys, k)
        if i < len(self.keys) and self.keys[i] == k:
            del self.keys[i]

    def bounds(self, gte: int | None, lt: int | None) -> tuple[int, int]:
        """Index range in ``keys`` of rows with gte <= created < lt."""
        lo = 0 if gte is None else bisect_left(self.keys, gte << SHIFT)
        hi = len(self.keys) if lt is None else bisect_left(self.keys, lt << SHIFT)
        return lo, max(lo, hi)

    def count(self, gte: int | None, lt: int | None) -> int:
        lo, hi = self.bounds(gte, lt)
        return hi - lo

    def rows_in(self, gte: int | None, lt: int | None) -> Sequence[int]:
        lo, hi = self.bounds(gte, lt)
        return [k & ROW_MASK for k in self.keys[lo:hi]]


EMBEDDED_LIMIT = 10
"""Children shown in a parent's embedded list (``invoice.lines``, ``subscription.items``)."""


def _one(row: int) -> Callable[[Sequence[Any]], tuple[Any]]:
    return lambda col: (col[row],)


def _unset_renderer(rows: Sequence[int]) -> list[bytes]:
    raise RuntimeError("table has no renderer")


@dataclass
class ChildRel:
    """Parent -> its child rows, in the order Stripe lists them (``kids[parent row]``)."""

    parent: Table
    child: Table
    kids: list[list[int]] = field(default_factory=list)

    def children(self, prow: int) -> list[int]:
        kids = self.kids
        return kids[prow] if prow < len(kids) else []

    def count(self, prow: int) -> int:
        return len(self.children(prow))

    def total(self, parents: Sequence[int]) -> int:
        kids, n = self.kids, len(self.kids)
        return sum(len(kids[p]) for p in parents if p < n)

    def add(self, prow: int, crow: int) -> None:
        """``crow`` becomes the last child of ``prow``."""
        kids = self.kids
        if prow >= len(kids):
            kids.extend([] for _ in range(prow + 1 - len(kids)))
        kids[prow].append(crow)


def page_table(
    table: Table | EventLog,
    gte: int | None,
    lt: int | None,
    limit: int,
    after_key: int | None = None,
    before_key: int | None = None,
    pred: Pred = None,
) -> tuple[list[int], bool]:
    """Rows of one newest-first page and ``has_more`` (Stripe cursor semantics)."""
    keys = table.keys
    lo, hi = table.bounds(gte, lt)
    out: list[int] = []
    if before_key is not None:
        lo = max(lo, bisect_right(keys, before_key))
        i = lo
        while i < hi and len(out) < limit:
            row = keys[i] & ROW_MASK
            if pred is None or pred(row):
                out.append(row)
            i += 1
        has_more = _any(keys, range(i, hi), pred)
        out.reverse()
        return out, has_more
    if after_key is not None:
        hi = min(hi, bisect_left(keys, after_key))
    i = hi - 1
    if pred is None:
        stop = max(lo, hi - limit)
        out = [k & ROW_MASK for k in reversed(keys[stop:hi])]
        return out, stop > lo
    while i >= lo and len(out) < limit:
        row = keys[i] & ROW_MASK
        if pred(row):
            out.append(row)
        i -= 1
    return out, _any(keys, range(i, lo - 1, -1), pred)


def _any(keys: array, positions: range, pred: Pred) -> bool:
    if pred is None:
        return len(positions) > 0
    return any(pred(keys[i] & ROW_MASK) for i in positions)


def page_seq(
    seq: Sequence[int],
    limit: int,
    after_pos: int | None = None,
    before_pos: int | None = None,
) -> tuple[Sequence[int], bool]:
    """One page of an ordered child sequence, cursor given as a position in ``seq``."""
    if before_pos is not None:
        lo = max(0, before_pos - limit)
        return seq[lo:before_pos], lo > 0
    start = 0 if after_pos is None else after_pos + 1
    end = start + limit
    return seq[start:end], end < len(seq)


class EventLog:
    """Events in creation order: created, type and the rendered bytes per row."""

    def __init__(self, codec: IdCodec) -> None:
        self.codec = codec
        self.created = array("q")
        self.keys = array("q")
        self.types: list[str] = []
        self.data: list[bytes] = []

    def __len__(self) -> int:
        return len(self.created)

    def next_row(self) -> int:
        return len(self.created)

    def append(self, created: int, etype: str, body: bytes) -> int:
        row = len(self.created)
        if self.created and created < self.created[-1]:
            created = self.created[-1]
        self.created.append(created)
        self.keys.append((created << SHIFT) | row)
        self.types.append(etype)
        self.data.append(body)
        return row

    def row_of(self, obj_id: str) -> int:
        row = self.codec.decode(obj_id)
        return row if 0 <= row < len(self.created) else -1

    def id_of(self, row: int) -> str:
        return self.codec.encode(row)

    bounds = Table.bounds
