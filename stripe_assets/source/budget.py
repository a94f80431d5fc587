"""A process-wide request budget (token bucket) shared by every request of a run."""

from __future__ import annotations

import hashlib
import threading
import time

# Our bucket holds half a second of tokens while Stripe's holds about one: requests that
# leave spaced but arrive bunched (thread scheduling, network jitter) then still find tokens.
BURST_SECONDS = 0.5


class RequestBudget:
    """Token bucket: `rate` requests per second with a half-second burst.

    On a 429 the rate drops by a quarter (never below 1 req/s); it climbs back by 5% after
    every 50 answers without one, up to the configured rate.
    """

    def __init__(self, rate: float) -> None:
        self.configured_rate = rate
        self.rate = rate
        self._tokens = min(rate, 1.0)
        self._updated = time.monotonic()
        self._lock = threading.Lock()
        self._since_throttle = 0
        self.waiting = 0
        self.throttles = 0

    def acquire(self) -> None:
        """Block until one request may be sent."""
        waited = False
        while True:
            with self._lock:
                now = time.monotonic()
                burst = max(1.0, self.rate * BURST_SECONDS)
                self._tokens = min(burst, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    self.waiting -= waited
                    return
                wait = (1.0 - self._tokens) / self.rate
                if not waited:
                    self.waiting += 1
                    waited = True
            time.sleep(wait)

    @property
    def saturated(self) -> bool:
        """Requests are queueing for tokens: more concurrency would not send more."""
        return self.waiting > 0

    def throttled(self) -> None:
        with self._lock:
            self.rate = max(1.0, self.rate * 0.75)
            self._tokens = min(self._tokens, max(1.0, self.rate * BURST_SECONDS))
            self._since_throttle = 0
            self.throttles += 1

    def succeeded(self) -> None:
        with self._lock:
            if self.rate >= self.configured_rate:
                return
            self._since_throttle += 1
            if self._since_throttle >= 50:
                self.rate = min(self.configured_rate, self.rate * 1.05)
                self._since_throttle = 0


_budgets: dict[tuple[str, str, float], RequestBudget] = {}
_budgets_lock = threading.Lock()


def shared_budget(api_base: str, api_key: str, rate: float) -> RequestBudget:
    """The one budget of this process for an account (key) on a server at a given rate."""
    account = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    with _budgets_lock:
        return _budgets.setdefault((api_base, account, rate), RequestBudget(rate))
