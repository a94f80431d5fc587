"""Keep a run's resident memory flat with volume.

Pages are decoded, converted and dropped by dozens of threads. Two allocators kept what they
freed: pyarrow's default pool (mimalloc) and glibc's per-thread arenas (up to 8 per core),
so RSS grew with the rows read although the live data stayed small. A run therefore
allocates Arrow buffers with the system allocator, caps glibc's arenas and hands freed pages
back to the OS now and then. Explicit `ARROW_DEFAULT_MEMORY_POOL` / `MALLOC_ARENA_MAX` win.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import time

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
