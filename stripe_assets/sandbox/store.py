"""Compact columnar object store: sorted keys for newest-first paging, child ranges, counts.

A row's sort key is ``created << SHIFT | row``, so ``keys`` (an ``array('q')``) orders rows by
``created`` with ties broken by row number, and a created window is two bisects.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .ids import IdCodec

SHIFT = 30
ROW_MASK = (1 << SHIFT) - 1

Pred = Callable[[int], bool] | None


class Table:
    """One resource: per-row columns in arrays, plus the sorted keys of listable rows."""

    def __init__(self, name: str, obj: str, codec: IdCodec) -> None:
        self.name = name
        self.obj = obj
        self.codec = codec
        self.created = array("q")
        self.keys = array("q")
        self.deleted = bytearray()
        self.cols: dict[str, array] = {}
        self.patches: dict[int, dict[str, Any]] = {}
        self.cache: dict[int, bytes] = {}
        """Renders of mutated (patched) rows: authoritative, never evicted."""
        self.lru = RenderCache(0)
        self.kbase = 0
        """This table's tag in the shared render cache's keys (``kbase | row``)."""
        self.render_rows: Callable[[Sequence[int]], list[bytes]] = _unset_renderer
        """Renders rows (in one batch) from their columns, ignoring caches and overrides."""
        self.ids: list[bytes] = []
        """Every row's id as bytes (kept in step with ``created`` by ``sync_ids``)."""
        self.qids: list[bytes] | None = None
        """``b'"<id>"'`` per row then ``b"null"``, so ``qids[row]`` is a JSON reference and
        ``qids[-1]`` is null (built on demand by ``quoted_ids``)."""

    def __len__(self) -> int:
        return len(self.created)

    def col(self, name: str, typecode: str) -> array:
        """Create (or return) a column."""
        if name not in self.cols:
            self.cols[name] = array(typecode)
        return self.cols[name]

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
        return self.qids

    def render_row(self, row: int) -> bytes:
        """A fresh render of one row (no cache, no override)."""
        return self.render_rows((row,))[0]

    def row_of(self, obj_id: str) -> int:
        """Row for an id of this table, -1 if it is not one."""
        row = self.codec.decode(obj_id)
        return row if 0 <= row < len(self.created) else -1

    def render(self, row: int) -> bytes:
        """JSON bytes of a row: a mutated row's override, else the (cached) template render."""
        b = self.cache.get(row)
        if b is not None:
            return b
        return self.render_many((row,))[0]

    def render_many(self, rows: Sequence[int]) -> list[bytes]:
        """``[render(r) for r in rows]``: overrides and cached renders, the rest rendered in
        one batch and cached."""
        over = self.cache
        lru = self.lru
        get, touch = lru.d.get, lru.d.move_to_end
        kbase = self.kbase
        out: list[bytes] = []
        missing: list[int] = []
        for r in rows:
            b = over.get(r) if over else None
            if b is None:
                b = get(kbase | r)
                if b is None:
                    missing.append(len(out))
                else:
                    touch(kbase | r)
            out.append(b)  # type: ignore[arg-type]
        if missing:
            todo = [rows[i] for i in missing]
            fresh = self.render_rows(todo)
            for i, b in zip(missing, fresh, strict=True):
                out[i] = b
            lru.put_many(kbase, todo, fresh)
        return out

    def render_embedded(self, rows: Sequence[int]) -> list[bytes]:
        """Renders of child rows embedded in parents' renders, in one batch and not cached
        (the parents' renders are)."""
        out = self.render_rows(rows)
        over = self.cache
        if over:
            out = [over.get(r) or b for r, b in zip(rows, out, strict=True)]
        return out

    def invalidate(self, row: int) -> None:
        """Forget cached renders of a row (after its state changed)."""
        self.cache.pop(row, None)
        self.lru.discard(self.kbase | row)

    def finish_keys(self) -> None:
        """Build ``keys`` from ``created`` (all rows listable)."""
        ks = [(c << SHIFT) | i for i, c in enumerate(self.created)]
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


ENTRY_OVERHEAD = 120
"""Bytes charged per cached render on top of its length (bytes header, dict and list slots)."""


class RenderCache:
    """Rendered JSON of rows of every table, least recently used first out, bounded by bytes.

    Keys are ``table.kbase | row``; ``Table.render_many`` reads it and fills it. A zero budget
    disables caching.
    """

    __slots__ = ("budget", "d", "left")

    def __init__(self, nbytes: int) -> None:
        self.budget = nbytes
        self.left = nbytes
        self.d: OrderedDict[int, bytes] = OrderedDict()

    def put_many(self, kbase: int, rows: Sequence[int], renders: Sequence[bytes]) -> None:
        """Cache renders of rows of one table, evicting the least recently used as needed."""
        if not self.budget:
            return
        d = self.d
        left = self.left
        for r, b in zip(rows, renders, strict=True):
            key = kbase | r
            old = d.get(key)
            if old is not None:
                left += len(old) + ENTRY_OVERHEAD
            d[key] = b
            left -= len(b) + ENTRY_OVERHEAD
        if left < 0:
            pop = d.popitem
            while left < 0 and d:
                left += len(pop(last=False)[1]) + ENTRY_OVERHEAD
        self.left = left

    def discard(self, key: int) -> None:
        b = self.d.pop(key, None)
        if b is not None:
            self.left += len(b) + ENTRY_OVERHEAD

    def __len__(self) -> int:
        return len(self.d)


def _unset_renderer(rows: Sequence[int]) -> list[bytes]:
    raise RuntimeError("table has no renderer")


@dataclass
class ChildRel:
    """Parent -> contiguous child rows (``start[p] .. start[p]+count[p]``)."""

    parent: Table
    child: Table
    start: array
    count: array
    newest_first: bool = False

    def children(self, prow: int) -> range:
        s, n = self.start[prow], self.count[prow]
        if self.newest_first:
            return range(s + n - 1, s - 1, -1)
        return range(s, s + n)

    def total(self, parents: Sequence[int]) -> int:
        cnt = self.count
        return sum(cnt[p] for p in parents)


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
