"""Which tables this code location loads: `STRIPE_TABLES` (a comma list of registry tables;
default: all of them) minus `STRIPE_EXCLUDE_TABLES`. Read when the code location loads: the
assets, their checks, the job, the schedule and the events sensor all follow it, so a key
(or a need) that covers ten tables is said once. A child table loads without its parent (the
parent's list is read, not stored)."""

from __future__ import annotations

import os
from functools import cache

from stripe_assets.tables import TABLES, StripeTable

TABLES_ENV = "STRIPE_TABLES"
EXCLUDE_TABLES_ENV = "STRIPE_EXCLUDE_TABLES"


def _names(env: str) -> list[str] | None:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    known = {t.name for t in TABLES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"{env}={raw!r} names no table {unknown}: write a comma list of "
            f"{', '.join(sorted(known))}"
        )
    return names


@cache
def selected_tables() -> tuple[StripeTable, ...]:
    """The registry's tables this code location loads, in registry order."""
    wanted = _names(TABLES_ENV)
    excluded = set(_names(EXCLUDE_TABLES_ENV) or ())
    chosen = tuple(
        t for t in TABLES if (wanted is None or t.name in wanted) and t.name not in excluded
    )
    if not any(not t.snapshot for t in chosen):
        raise ValueError(
            f"{TABLES_ENV} and {EXCLUDE_TABLES_ENV} leave no daily table to load (the catalog "
            "tables alone are not a load): select at least one other table"
        )
    return chosen


def selected_names() -> list[str]:
    return [t.name for t in selected_tables()]


def partitioned_tables() -> list[str]:
    """Selected tables loaded per daily partition."""
    return [t.name for t in selected_tables() if not t.snapshot]


def snapshot_tables() -> list[str]:
    """Selected catalog tables, read whole on every run."""
    return [t.name for t in selected_tables() if t.snapshot]
