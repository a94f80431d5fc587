"""Deterministic generation of a Stripe account's objects from (seed, start, end, scale,
volumes): the billing history (``billing.py``), every other registry table from its entry
(``generic.py``), then the balance and payouts (``money.py``)."""

from __future__ import annotations

from . import billing, generic, money
from .config import SandboxConfig
from .world import World


def generate(cfg: SandboxConfig) -> World:
    """Build the full, deterministic data set for a configuration."""
    w = World(cfg)
    w.billing = billing.generate(w)
    w.owned.update(money.OWNS)  # filled last, from everything that moves money
    w.generic = generic.generate(w)
    w.balance = money.generate(w)
    w.finish()
    return w
