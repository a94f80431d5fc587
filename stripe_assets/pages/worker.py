"""A page worker process: `python -m stripe_assets.pages.worker`.

Reads length-prefixed pickled `(body, job)` requests on stdin and answers each, in order, on
stdout with a pickled `(ok, DecodedPage | exception)`. It imports neither dlt nor Dagster,
so it starts in a fraction of a second.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import pickle
import struct
import sys
import time
from typing import BinaryIO

import pyarrow as pa

from stripe_assets.pages.decode import decode_page

HEADER = struct.Struct("!Q")
READY = b"R"
TRIM_EVERY_SECONDS = 2.0


def read_frame(stream: BinaryIO) -> bytes | None:
    """One length-prefixed frame, or None at end of stream."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    size = HEADER.unpack(header)[0]
    data = stream.read(size)
    return data if len(data) == size else None


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _trimmer() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - only glibc has it
    except (OSError, AttributeError):
        return None
    return libc


def main() -> None:
    """Serve until stdin closes (the run ended or its process died)."""
    requests = os.fdopen(sys.stdin.fileno(), "rb", buffering=1 << 20)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=1 << 20)
    sys.stdout = sys.stderr  # nothing but answers on the answer pipe
    pa.set_memory_pool(pa.system_memory_pool())  # freed buffers go back to the OS
    gc.set_threshold(50_000, 20, 100)  # pages hold no cycles (see source/memory.py)
    libc, last_trim = _trimmer(), time.monotonic()
    write_frame(answers, READY)
    while (frame := read_frame(requests)) is not None:
        body, job = pickle.loads(frame)
        try:
            answer: tuple[bool, object] = (True, decode_page(body, job))
        except Exception as exc:  # sent back and raised in the run's thread
            answer = (False, exc)
        del body, frame
        write_frame(answers, pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
        del answer
        if libc is not None and time.monotonic() - last_trim > TRIM_EVERY_SECONDS:
            libc.malloc_trim(0)
            last_trim = time.monotonic()


if __name__ == "__main__":
    main()
