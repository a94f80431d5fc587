"""The sandbox's account: one object table per Stripe object type, the parent -> child
relations of the registry's child tables, the event log, and the deterministic randomness
every generator draws from.

Tables are made on demand from the object type alone (``World.table``): the id prefix and
shape come from Stripe's example object of that type. Which registry table an object table
serves follows from the registry (``StripeTable.object``), so nothing here names a table.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from stripe_assets.tables import TABLES, TABLES_BY_NAME, StripeTable

from . import spec
from .config import SandboxConfig
from .ids import IdCodec, tag
from .store import ChildRel, EventLog, Table

DAY = 86_400
EVENT = "event"
EMPTY_DAY_P = 0.05
"""Share of days on which a quiet table (under ``BUSY`` objects a day) gets no object."""
BUSY = 10.0

ID_PREFIXES = {
    "line_item": "il",
    "checkout.session": "cs_test",
    "subscription_schedule": "sub_sched",
    "coupon": "co",
}
"""Id prefixes where Stripe's example object carries a temporary or mode-specific one."""


def seed_int(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big")


def mix(key: int, row: int) -> int:
    """Cheap deterministic 64-bit hash of a row number (for per-row cosmetic fields)."""
    h = (row * 0x9E3779B97F4A7C15 + key) & 0xFFFFFFFFFFFFFFFF
    h ^= h >> 29
    h = (h * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    return h ^ (h >> 32)


def id_prefix(object_type: str) -> tuple[str, bool]:
    """(prefix, long) of the ids of an object type, read off Stripe's example object:
    ``ch_1NnlpS...`` -> ("ch", True), ``cus_Oaxlz8kB0PJWGa`` -> ("cus", False)."""
    example = spec.fixture(object_type)["id"] if spec.has_fixture(object_type) else "obj_1x"
    prefix = ID_PREFIXES.get(object_type) or example.split("_", 1)[0]
    body = example[len(prefix) + 1 :]
    return prefix, len(body) >= 20


@dataclass(frozen=True)
class Served:
    """How one registry table is served: its object table and, for a child table, the
    relation that holds each parent's children."""

    table: StripeTable
    store: Table
    rel: ChildRel | None


class World:
    """Everything one sandbox holds."""

    def __init__(self, cfg: SandboxConfig) -> None:
        self.cfg = cfg
        self.seed = cfg.seed
        self.scale = cfg.scale
        self.start = cfg.start_ts
        self.end = cfg.end_ts
        self.days = list(range(self.start, self.end, DAY))
        self.tables: dict[str, Table] = {}
        """Object type -> its table."""
        self.stores: dict[str, Table] = {}
        """Registry table -> the table serving it: its object type's, except for a child list
        of objects of a type another child list holds too (the line items of quotes and of
        Checkout Sessions are both `item`s), which gets its own."""
        self.rels: dict[str, ChildRel] = {}
        """Registry child table -> parent/child relation."""
        self.events = EventLog(IdCodec(cfg.seed, "evt"))
        self.billing: Any = None
        self.generic: Any = None
        self.balance: Any = None
        """The generators (``billing.Billing``, ``generic.Generic``, ``money.Balance``),
        kept for mutations that create objects the way generation does."""
        self.owned: set[str] = set()
        """Object types a dedicated generator filled (billing, money): the generic one
        leaves them alone."""
        self.account_id = f"acct_1{tag(cfg.seed, 'acct')}{tag(cfg.seed, 'acct2', width=5)}"
        claimed: dict[str, str] = {}
        for entry in TABLES:
            if entry.object == EVENT:
                continue  # the event log (``self.events``) serves them
            store = self.table(entry.object)
            if entry.child is not None and claimed.get(entry.object, entry.path) != entry.path:
                store = self._own_store(entry.name, entry.object)
            claimed.setdefault(entry.object, entry.path)
            self.stores[entry.name] = store
        for entry in TABLES:
            if entry.child is not None:
                parent = self.stores[entry.child.parent]
                self.rels[entry.name] = ChildRel(parent, self.stores[entry.name])

    def table(self, object_type: str) -> Table:
        """The table of an object type (made on first use)."""
        found = self.tables.get(object_type)
        if found is None:
            prefix, long = id_prefix(object_type)
            codec = IdCodec(self.seed, prefix, long=long)
            found = self.tables[object_type] = Table(object_type, object_type, codec)
        return found

    def _own_store(self, name: str, object_type: str) -> Table:
        prefix, long = id_prefix(object_type)
        codec = IdCodec(seed_int(self.seed, name) & 0xFFFFFFFF, prefix, long=long)
        return Table(name, object_type, codec)

    def of(self, name: str) -> Table:
        """The object table serving a registry table."""
        return self.stores[name]

    def all_tables(self) -> list[Table]:
        """Every table, once (by object type, then the child lists' own)."""
        return list({id(t): t for t in (*self.tables.values(), *self.stores.values())}.values())

    @cached_property
    def served(self) -> dict[str, Served]:
        return {
            t.name: Served(t, self.of(t.name), self.rels.get(t.name))
            for t in TABLES
            if t.object != EVENT
        }

    # -- randomness ------------------------------------------------------------------------

    def rng(self, *what: object) -> random.Random:
        return random.Random(seed_int(self.seed, *what))

    def volume(self, name: str) -> float:
        """Objects a day of a registry table at this sandbox's scale (config overrides the
        registry's default)."""
        per_day = self.cfg.volumes.get(name, TABLES_BY_NAME[name].sandbox.daily)
        return float(per_day) * self.scale

    def daily_count(self, rng: random.Random, mean: float, day: int) -> int:
        quiet = rng.random() < EMPTY_DAY_P
        if mean <= 0 or (quiet and mean < BUSY):  # a busy table always has its day
            return 0
        if (day // DAY + 4) % 7 in (5, 6):  # Saturday, Sunday
            mean *= 0.7
        return int(mean * rng.uniform(0.6, 1.4) + rng.random())

    def times(self, rng: random.Random, n: int, day: int) -> list[int]:
        """n sorted seconds within the day; about a quarter repeat the previous second."""
        hi = min(day + DAY, self.end) - 1
        ts = sorted(rng.randint(day, hi) for _ in range(n))
        for i in range(1, n):
            if rng.random() < 0.25:
                ts[i] = ts[i - 1]
        return ts

    def finish(self) -> None:
        """After generation: every table's ids and keys (listable rows, sorted by created)."""
        for table in self.all_tables():
            table.sync_ids()
            table.finish_keys()

    def total_objects(self) -> int:
        return sum(len(t) for t in self.all_tables()) + len(self.events)


class Picker:
    """Random rows of a table created at or before a time (the table may be in any order)."""

    def __init__(self, table: Table, rows: Iterable[int] | None = None) -> None:
        created = table.created
        order = sorted(range(len(created)) if rows is None else rows, key=created.__getitem__)
        self.rows = order
        self.created = [created[r] for r in order]

    def before(self, rng: random.Random, t: int) -> int:
        """-1 when no row was created by ``t``."""
        k = bisect_right(self.created, t)
        return self.rows[rng.randrange(k)] if k else -1

    def recent(self, rng: random.Random, t: int, window: int) -> int:
        """A row created within ``window`` seconds before ``t`` (else any before ``t``)."""
        k = bisect_right(self.created, t)
        if not k:
            return -1
        lo = bisect_left(self.created, t - window, 0, k)
        return self.rows[rng.randrange(lo, k) if lo < k else rng.randrange(k)]
