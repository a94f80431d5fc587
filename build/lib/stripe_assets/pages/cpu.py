"""Keep the run's many I/O threads from fighting over the GIL when they decode pages
themselves (page workers starting or disabled, `STRIPE_PAGE_PROCESSES=0`, events).

Dozens of threads wait on Stripe at once (they must, to fill the rate limit at 200-500 ms a
request), but parsing and converting a page is pure CPU under the GIL. When every thread
that has a page works on it at once, the interpreter switches between them every few
milliseconds and each switch evicts the others' pages from the CPU caches: the same work
cost up to three times the CPU. Page work therefore takes one of a few slots; waiting for a
slot costs nothing, since only one thread can run Python at a time anyway.
"""

from __future__ import annotations

import threading

# Measured on 2 cores, 250k rows at zero latency: 1 or 2 slots cut the conversion's CPU from
# 11-14 s to 4-5 s and the extraction from ~21 s to ~14 s; 64 slots (no limit) did nothing.
CPU_SLOTS = 2

page_work = threading.BoundedSemaphore(CPU_SLOTS)
"""Hold while parsing or converting a page: `with page_work: ...`."""
