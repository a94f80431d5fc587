"""A process-wide request budget (token bucket) shared by every request of a run."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque

# Our bucket holds half a second of tokens while Stripe's holds about one: requests that
# leave spaced but arrive bunched (thread scheduling, network jitter) then still find tokens.
BURST_SECONDS = 0.5
# A waiter not next in line is woken when it is; this is only a safety net.
_RECHECK_SECONDS = 0.25
# 429s answered within this long of the last cut are one signal: they answer requests sent at
# the old rate. (Cutting on each made a burst of 20 concurrent 429s a 300-fold cut, and a run
# then crawled at 1 req/s for minutes.)
THROTTLE_WINDOW_SECONDS = 1.0
# Each second without a 429 the rate climbs back by this share of the configured rate.
RECOVERY_PER_SECOND = 0.05


class RequestBudget:
    """Token bucket: `rate` requests per second with a half-second burst.

    Requests that must wait for a token are served round-robin between their keys (tables),
    first come first served within one: a list walked by one cursor (a payout's transactions,
    a chain of pages) gets its next page as soon as it asks instead of drawing lots with the
    dozens of waiting requests of a table walked by many cursors, and is not left for the end.

    On a 429 the rate drops by a quarter (never below 1 req/s), at most once per second; each
    second without one it climbs back by 5% of the configured rate (additive increase,
    multiplicative decrease, as TCP does), so it settles just under Stripe's limit.
    """

    def __init__(self, rate: float) -> None:
        self.configured_rate = rate
        self.rate = rate
        self._tokens = min(rate, 1.0)
        self._updated = time.monotonic()
        self._lock = threading.Lock()
        self._last_cut = self._last_raise = float("-inf")
        self._queues: dict[str, deque[threading.Event]] = {}
        self._served: dict[str, int] = {}
        self._grants = 0
        self.waiting = 0
        self.throttles = 0

    def _refill(self) -> None:
        now = time.monotonic()
        burst = max(1.0, self.rate * BURST_SECONDS)
        self._tokens = min(burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def _first(self) -> threading.Event | None:
        """The waiter the next token goes to: the key served least recently (under the lock)."""
        if not self._queues:
            return None
        key = min(self._queues, key=lambda k: self._served.get(k, -1))
        return self._queues[key][0]

    def acquire(self, key: str = "") -> None:
        """Block until one request of `key` (its table) may be sent."""
        with self._lock:
            self._refill()
            # Tokens for every waiter and this request: no need to queue. (Queueing whenever
            # anyone waits made an unlimited budget a convoy: one wake-up per request.)
            if self._tokens >= 1.0 + self.waiting:
                self._tokens -= 1.0
                return
            me = threading.Event()
            self._queues.setdefault(key, deque()).append(me)
            self.waiting += 1
        try:
            while True:
                with self._lock:
                    self._refill()
                    first = self._first() is me
                    if first and self._tokens >= 1.0:
                        self._tokens -= 1.0
                        self._grants += 1
                        self._served[key] = self._grants
                        return
                    me.clear()
                    wait = (1.0 - self._tokens) / self.rate if first else _RECHECK_SECONDS
                me.wait(wait)
        finally:
            with self._lock:
                queue = self._queues[key]
                queue.remove(me)
                if not queue:
                    del self._queues[key]
                self.waiting -= 1
                after = self._first()
                if after is not None:
                    after.set()

    def queued(self, key: str) -> bool:
        """Requests of `key` are queueing for tokens: more of them would not send more."""
        return key in self._queues

    @property
    def saturated(self) -> bool:
        """Requests are queueing for tokens: more concurrency would not send more."""
        return self.waiting > 0

    def throttled(self) -> None:
        with self._lock:
            self.throttles += 1
            now = time.monotonic()
            if now - self._last_cut < THROTTLE_WINDOW_SECONDS:
                return
            self.rate = max(1.0, self.rate * 0.75)
            self._tokens = min(self._tokens, max(1.0, self.rate * BURST_SECONDS))
            self._last_cut = now

    def succeeded(self) -> None:
        with self._lock:
            if self.rate >= self.configured_rate:
                return
            now = time.monotonic()
            if now - max(self._last_cut, self._last_raise) >= THROTTLE_WINDOW_SECONDS:
                step = self.configured_rate * RECOVERY_PER_SECOND
                self.rate = min(self.configured_rate, self.rate + step)
                self._last_raise = now


_budgets: dict[tuple[str, str, float], RequestBudget] = {}
_budgets_lock = threading.Lock()


def shared_budget(api_base: str, api_key: str, rate: float) -> RequestBudget:
    """The one budget of this process for an account (key) on a server at a given rate."""
    account = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    with _budgets_lock:
        return _budgets.setdefault((api_base, account, rate), RequestBudget(rate))
