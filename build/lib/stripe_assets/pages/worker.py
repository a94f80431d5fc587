"""A page worker process: `python -m stripe_assets.pages.worker`.

Reads length-prefixed pickled `(body, job)` requests on stdin and answers each, in order, on
stdout with a pickled `(ok, DecodedPage | exception)`. It imports neither dlt nor Dagster,
so it starts in a fraction of a second.
"""

from __future__ import annotations

import gc
import os
import pickle
import struct
import sys
from typing import BinaryIO

from stripe_assets.pages.decode import decode_page
from stripe_assets.pages.memory import BULK_GC_THRESHOLDS, bound_allocators, release_freed_memory

HEADER = struct.Struct("!Q")
READY = b"R"


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


def main() -> None:
    """Serve until stdin closes (the run ended or its process died)."""
    requests = os.fdopen(sys.stdin.fileno(), "rb", buffering=1 << 20)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=1 << 20)
    sys.stdout = sys.stderr  # nothing but answers on the answer pipe
    bound_allocators()
    gc.set_threshold(*BULK_GC_THRESHOLDS)
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
        release_freed_memory()


if __name__ == "__main__":
    main()
