"""Objects of any registry table from its entry alone: volume (`Volume`), references
(`Ref`) and Stripe's example object.

A table gets `daily` objects a day, or one object for a share of the objects its `per`
reference points at (a refund for 6% of charges, a payment intent for every charge), created
`after` that object. A `Ref` points at an object of another table created before this one,
copies its `copy` fields, keeps `amount` within its `within` field (counting every object
that refers to it) and adds to its `total`, and sets its `back` field to this object. A child
table gets `children` rows per parent, whose amounts add up to the parent's. Everything else
is Stripe's example object of the type (``render.py``).
"""

from __future__ import annotations

import random
from collections import defaultdict
from graphlib import TopologicalSorter

from stripe_assets.tables import TABLES, TABLES_BY_NAME, Ref, StripeTable

from . import spec
from .billing import to_minor
from .store import Table
from .world import DAY, Picker, World

MIRRORS_AMOUNT = (
    "total",
    "subtotal",
    "total_excluding_tax",
    "subtotal_excluding_tax",
    "amount_excluding_tax",
)
"""Money fields that equal `amount` on objects without taxes or discounts."""

STATUS_FROM = {
    "payment_intent": (
        "latest_charge",
        {"succeeded": "succeeded", "failed": "requires_payment_method", "pending": "processing"},
    ),
}
"""Object type -> (reference, status of the referenced object -> this object's status)."""


def order(tables: list[StripeTable]) -> list[StripeTable]:
    """Tables after the tables they reference, and after any table whose `back` field
    writes a field they copy (refunds copy the charge's `payment_intent`)."""
    writers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for t in tables:
        for ref in t.refs:
            if ref.back:
                writers[(ref.table, ref.back)].add(t.name)
    graph: dict[str, set[str]] = {}
    names = {t.name for t in tables}
    for t in tables:
        deps = {ref.table for ref in t.refs if ref.table in names}
        for ref in t.refs:
            for copied in ref.copy:
                deps |= writers.get((ref.table, copied), set()) - {t.name}
        graph[t.name] = deps
    ranked = list(TopologicalSorter(graph).static_order())
    return [TABLES_BY_NAME[name] for name in ranked]


class Generic:
    """Fills the registry tables no dedicated generator owns."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.used: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
        """(table, field) -> per referenced row, the amount already taken by `within`."""
        self.pickers: dict[str, Picker] = {}

    def picker(self, name: str) -> Picker:
        found = self.pickers.get(name)
        if found is None:
            found = self.pickers[name] = Picker(self.w.of(name))
        return found

    def run(self) -> None:
        platform = self.w.cfg.platform  # no Connect objects on an account that is not one
        todo = [
            t
            for t in TABLES
            if not t.is_child
            and t.name in self.w.stores
            and self.w.of(t.name).obj not in self.w.owned
            and (platform or not t.connect)
        ]
        for entry in order(todo):
            table = self.w.of(entry.name)
            self.columns(entry, table)
            if entry.sandbox.per:
                self.per_reference(entry, table)
            else:
                self.daily(entry, table)
            self.w.owned.add(table.obj)
        done: set[int] = set()
        for entry in TABLES:
            if not entry.is_child or (entry.connect and not platform):
                continue
            child = self.w.of(entry.name)
            if child.obj not in self.w.owned or child.name == entry.name:  # its own store
                if id(child) not in done:
                    self.children(entry, child)
                    done.add(id(child))
                self.w.owned.add(child.obj)

    # -- columns -----------------------------------------------------------------------------

    def columns(self, entry: StripeTable, table: Table) -> None:
        example = spec.fixture(entry.object)
        for ref in entry.refs:
            target = self.w.of(ref.table)
            if ref.inline:
                table.add(ref.field, inline=target)
            else:
                table.add(ref.field, ref=target)
            for name in ref.copy:
                if name in target.refs:
                    table.add(name, ref=target.refs[name])
                else:
                    table.add(name)
        if isinstance(example.get("amount"), int):
            table.add("amount")
            for name in MIRRORS_AMOUNT:
                if isinstance(example.get(name), int):
                    table.add(name, path=name)
        if entry.object in STATUS_FROM:
            table.add("status")

    # -- volumes ----------------------------------------------------------------------------

    def daily(self, entry: StripeTable, table: Table) -> None:
        w = self.w
        if entry.sandbox.before:  # a catalog that predates the window
            rng = w.rng(entry.name, "before")
            times = sorted(rng.randint(w.start - 365 * DAY, w.start - 1) for _ in range(
                entry.sandbox.before))  # fmt: skip
            for t in times:
                self.make(entry, table, rng, t, {})
        for day in w.days:
            rng = w.rng(entry.name, day)
            for t in w.times(rng, w.daily_count(rng, w.volume(entry.name), day), day):
                self.make(entry, table, rng, t, {})

    def per_reference(self, entry: StripeTable, table: Table) -> None:
        w = self.w
        volume = entry.sandbox
        ref = next(r for r in entry.refs if r.field == volume.per)
        target = w.of(ref.table)
        share = float(w.cfg.volumes.get(entry.name, volume.share))
        lo, hi = volume.after
        for row in sorted(range(len(target)), key=target.created.__getitem__):
            rng = w.rng(entry.name, row)
            if rng.random() >= share:
                continue
            t = max(w.start, target.created[row] + rng.randint(lo, hi))
            if t >= w.end or not self._eligible(entry, ref, row):
                continue
            self.make(entry, table, rng, t, {ref.field: row})

    def _eligible(self, entry: StripeTable, ref: Ref, row: int) -> bool:
        """A referenced object that can carry one more (a succeeded charge with an amount
        left to refund; an invoice with a total to credit)."""
        if not ref.within:
            return True
        status = self.w.of(ref.table).cols.get("status")
        if status is not None and status[row] in ("failed", "pending", "draft", "void"):
            return False
        return self._room(ref, row) > 0

    def _room(self, ref: Ref, row: int) -> int:
        limit = self.w.of(ref.table).cols[ref.within or "amount"][row]
        return int(limit or 0) - self.used[(ref.table, ref.within or "")].get(row, 0)

    # -- one object ---------------------------------------------------------------------------

    def make(
        self,
        entry: StripeTable,
        table: Table,
        rng: random.Random,
        t: int,
        fixed: dict[str, int],
        full: bool = False,
    ) -> int:
        """One object created at ``t`` (references in ``fixed`` given, the others picked);
        ``full`` takes all the room a `within` reference leaves (a full refund). -1 when a
        `within` reference has no room left."""
        values: dict[str, object] = {}
        amount: int | None = None
        currency = "usd"
        for ref in entry.refs:
            target = self.w.of(ref.table)
            row = fixed.get(ref.field)
            if row is None:
                row = self.picker(ref.table).before(rng, t) if rng.random() < ref.share else -1
            values[ref.field] = row
            if row < 0:
                continue
            for name in ref.copy:
                values[name] = target.cols[name][row] if name in target.cols else None
            if "currency" in ref.copy and values.get("currency"):
                currency = str(values["currency"])
            if ref.within:
                room = self._room(ref, row)
                if room <= 0:
                    return -1
                amount = room if full or rng.random() < 0.5 else rng.randint(1, room)
        if "amount" in table.cols:
            if amount is None:
                amount = values.get("amount") if isinstance(values.get("amount"), int) else None
            if amount is None:
                amount = to_minor(rng.choice((500, 1000, 2500, 5000, 12000)), currency)
            values["amount"] = amount
            for name in MIRRORS_AMOUNT:
                if name in table.cols:
                    values[name] = amount
        if entry.object in STATUS_FROM:
            field, mapping = STATUS_FROM[entry.object]
            ref = next(r for r in entry.refs if r.field == field)
            source = values.get(field, -1)
            status = self.w.of(ref.table).cols.get("status")
            values["status"] = mapping.get(status[source]) if status and source >= 0 else None
        row = table.append(t, **values)
        for ref in entry.refs:
            target_row = values.get(ref.field, -1)
            if not isinstance(target_row, int) or target_row < 0:
                continue
            target = self.w.of(ref.table)
            if ref.within and amount is not None:
                used = self.used[(ref.table, ref.within)]
                used[target_row] = used.get(target_row, 0) + amount
            if ref.total and amount is not None:
                target.cols[ref.total][target_row] += amount
            if ref.back:
                if ref.back not in target.cols:
                    target.add(ref.back, ref=table)
                target.cols[ref.back][target_row] = row if ref.back in target.refs else True
        return row

    def children(self, entry: StripeTable, child: Table) -> None:
        """`children` rows per parent, sharing the parent's amount."""
        link = entry.child
        assert link is not None
        rel = self.w.rels[entry.name]
        parent = rel.parent
        example = spec.fixture(entry.object)
        has_amount = isinstance(example.get("amount"), int)
        if has_amount:
            child.add("amount")
        back = link.parent_column if link.parent_column in example else None
        if back:
            child.add(back, ref=parent)
        lo, hi = entry.sandbox.children
        amounts = parent.cols.get("amount")
        for prow in range(len(parent)):
            rng = self.w.rng(entry.name, prow)
            n = rng.randint(lo, hi)
            total = int(amounts[prow]) if amounts and amounts[prow] else n
            if entry.sandbox.share_amount:
                shares = _split(total, n, rng) if n else []
            else:  # each takes a part (a partial reversal), together at most the parent's
                shares = [max(1, rng.randint(1, max(1, total // max(1, n)))) for _ in range(n)]
            for share in shares:
                values: dict[str, object] = {}
                if has_amount:
                    values["amount"] = share
                if back:
                    values[back] = prow
                rel.add(prow, child.append(parent.created[prow], **values))


def _split(total: int, n: int, rng: random.Random) -> list[int]:
    """``n`` positive parts adding up to ``total`` (or ones when it is too small)."""
    if total < n:
        return [max(1, total // n)] * n
    cuts = sorted(rng.sample(range(1, total), n - 1)) if n > 1 else []
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def generate(w: World) -> Generic:
    generic = Generic(w)
    generic.run()
    return generic
