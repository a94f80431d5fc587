"""Per-table counters for a run (pages, rows, requests, retries) and periodic progress lines."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class TableCounters:
    pages: int = 0
    rows: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    skipped_parents: int = 0

    def line(self) -> str:
        text = (
            f"pages={self.pages} rows={self.rows} requests={self.requests} "
            f"retries={self.retries} 429s={self.rate_limited}"
        )
        return text + (f" skipped_parents={self.skipped_parents}" if self.skipped_parents else "")


class RunProgress:
    """Thread-safe counters; logs one line per table at most every `interval` seconds."""

    def __init__(self, log: Callable[[str], None] | None = None, interval: float = 2.0) -> None:
        self._log = log
        self._interval = interval
        self._lock = threading.Lock()
        self._last_logged: dict[str, float] = {}
        self.started = time.monotonic()
        self.tables: dict[str, TableCounters] = defaultdict(TableCounters)
        self.pages_in_workers = 0
        self.pages_in_process = 0
        self.unavailable_tables: dict[str, str] = {}
        """Tables Stripe refused to list (403: a restricted key's permission, a Connect
        list on an account that is no platform): the first refusal's message."""

    def page(self, table: str, rows: int) -> None:
        with self._lock:
            counters = self.tables[table]
            counters.pages += 1
            counters.rows += rows
        self._maybe_log(table)

    def embedded(self, table: str, rows: int) -> None:
        """Child rows that came embedded in their parents' page (no request of their own)."""
        with self._lock:
            self.tables[table].rows += rows

    def request(self, table: str) -> None:
        with self._lock:
            self.tables[table].requests += 1

    def retry(self, table: str, status: int | None, reason: str) -> None:
        with self._lock:
            counters = self.tables[table]
            counters.retries += 1
            if status == 429:
                counters.rate_limited += 1
        if self._log:
            self._log(f"[{table}] retrying after {reason}")

    def skipped_parent(self, table: str, parent_id: str, reason: str) -> None:
        with self._lock:
            self.tables[table].skipped_parents += 1
        if self._log:
            self._log(f"[{table}] skipped children of {parent_id}: {reason}")

    def unavailable(self, table: str, reason: str) -> None:
        with self._lock:
            first = table not in self.unavailable_tables
            self.unavailable_tables.setdefault(table, reason)
        if first and self._log:
            self._log(f"[{table}] unavailable, not loaded: {reason}")

    def decoded(self, in_worker: bool) -> None:
        """A page was parsed and converted, in a page worker process or in this process."""
        with self._lock:
            if in_worker:
                self.pages_in_workers += 1
            else:
                self.pages_in_process += 1

    def warn(self, message: str) -> None:
        """Something the run recovered from but the user should know."""
        if self._log:
            self._log(message)

    def _maybe_log(self, table: str) -> None:
        if not self._log:
            return
        now = time.monotonic()
        with self._lock:
            if now - self._last_logged.get(table, self.started) < self._interval:
                return
            self._last_logged[table] = now
            line = self.tables[table].line()
        self._log(f"[{table}] {line} ({now - self.started:.1f}s)")

    @property
    def total_requests(self) -> int:
        return sum(c.requests for c in self.tables.values())

    def summary(self) -> str:
        with self._lock:
            lines = [f"  {name}: {c.line()}" for name, c in sorted(self.tables.items())]
        elapsed = time.monotonic() - self.started
        return (
            f"extracted in {elapsed:.1f}s, {self.total_requests} requests; pages decoded in "
            f"worker processes {self.pages_in_workers}, in the run's process "
            f"{self.pages_in_process}\n" + "\n".join(lines)
        )
