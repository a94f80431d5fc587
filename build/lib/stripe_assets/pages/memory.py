"""Keep a run's resident memory flat with volume, and the garbage collector out of the way.

Pages are decoded, converted and dropped by dozens of threads. Two allocators kept what they
freed: pyarrow's default pool (mimalloc) and glibc's per-thread arenas (up to 8 per core),
so RSS grew with the rows read although the live data stayed small. A run therefore
allocates Arrow buffers with the system allocator, caps glibc's arenas and hands freed pages
back to the OS now and then. Explicit `ARROW_DEFAULT_MEMORY_POOL` / `MALLOC_ARENA_MAX` win.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa

M_ARENA_MAX = -8  # glibc mallopt parameter
ARENAS = 2
TRIM_EVERY_SECONDS = 2.0

_libc: ctypes.CDLL | None = None
_last_trim = 0.0
_trim_lock = threading.Lock()


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.malloc_trim  # noqa: B018 - only glibc has it
            libc.mallopt  # noqa: B018
        except (OSError, AttributeError):
            return None
        _libc = libc
    return _libc


def bound_allocators() -> None:
    """Called when a source is built, before its threads start."""
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        pa.set_memory_pool(pa.system_memory_pool())
    libc = _glibc()
    if libc is not None and not os.environ.get("MALLOC_ARENA_MAX"):
        libc.mallopt(M_ARENA_MAX, ARENAS)


def release_freed_memory() -> None:
    """Return freed heap pages to the OS (glibc `malloc_trim`), at most every few seconds."""
    global _last_trim
    libc = _glibc()
    now = time.monotonic()
    if libc is None or now - _last_trim < TRIM_EVERY_SECONDS:
        return
    with _trim_lock:
        if now - _last_trim < TRIM_EVERY_SECONDS:
            return
        _last_trim = now
    libc.malloc_trim(0)


# Parsing a page creates tens of thousands of dicts and lists; with the default threshold
# (700) the collector ran every few hundred of them and, as pages waited in queues, kept
# re-scanning the whole heap: a third of the extraction's CPU. Pages hold no reference
# cycles (they are freed by reference counting), so collecting rarely loses nothing.
BULK_GC_THRESHOLDS = (50_000, 20, 100)


@contextmanager
def collector_tuned_for_pages() -> Iterator[None]:
    """Raise the collector's thresholds for a run's extraction; restore them afterwards."""
    before = gc.get_threshold()
    gc.set_threshold(*BULK_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
