"""Page work off the run's GIL: page worker processes parse and convert pages.

A run's process keeps dozens of threads waiting on Stripe; parsing and converting pages in
that process made its GIL the bottleneck (about 1.3 of 2 cores used at zero latency). Worker
processes take that work: the run sends a page's bytes and receives Arrow tables.

Why not `multiprocessing`: its spawned workers re-import the parent's main script (for the
`dagster` or `pytest` console scripts that is Dagster or pytest, seconds each without
bytecode caches), and forking a process with live threads is unsafe. A worker here is
`python -m stripe_assets.pages.worker` on two pipes (see worker.py for the protocol).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from stripe_assets.pages.cpu import page_work
from stripe_assets.pages.decode import DecodedPage, PageJob, decode_page
from stripe_assets.pages.worker import READY, read_frame, write_frame

# Workers stop after this long without a page (the run went on to normalize and load), and
# start again on the next page.
IDLE_SECONDS = 1.0
PIPE_BYTES = 1 << 20
# A worker never talks to Stripe: it does not get the key.
_NOT_FOR_WORKERS = frozenset(("STRIPE_API_KEY",))
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class PageWorkerError(RuntimeError):
    """A page worker died or could not start (its pages are decoded in-process instead)."""


def widen(pipe: Any) -> None:
    """Give a pipe 1 MB of buffer (Linux; 64 KB by default): a page or its Arrow answer then
    passes in one system call. With 64 KB, each chunk of a 500 KB page needed the GIL back,
    which a run's busy threads made a wait of up to 5 ms each."""
    size = PIPE_BYTES
    with contextlib.suppress(OSError, AttributeError, ImportError, ValueError):
        import fcntl  # not on Windows: pipes keep their size there

        size = min(size, int(Path("/proc/sys/fs/pipe-max-size").read_text()))
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, size)


class PageWorker:
    """One worker process; answers come back in the order pages were sent."""

    def __init__(self) -> None:
        path = os.pathsep.join(p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p)
        env = {k: v for k, v in os.environ.items() if k not in _NOT_FOR_WORKERS}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stripe_assets.pages.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**env, "PYTHONPATH": path},
        )
        for pipe in (self.process.stdin, self.process.stdout):
            widen(pipe)
        self.ready = threading.Event()
        self.failure: PageWorkerError | None = None
        self._pending: deque[Future[DecodedPage]] = deque()
        self._send = threading.Lock()
        threading.Thread(target=self._answers, name="page-worker-answers", daemon=True).start()

    @property
    def load(self) -> int:
        return len(self._pending)

    def submit(self, body: bytes, job: PageJob) -> Future[DecodedPage]:
        future: Future[DecodedPage] = Future()
        frame = pickle.dumps((body, job), protocol=pickle.HIGHEST_PROTOCOL)
        with self._send:
            if self.failure is not None:
                raise self.failure
            self._pending.append(future)  # under the lock: same order as the frames
            try:
                write_frame(self.process.stdin, frame)  # type: ignore[arg-type]
            except (OSError, ValueError) as exc:
                self._fail(f"could not take a page ({exc})")
                raise self.failure from exc  # type: ignore[misc]
        return future

    def close(self) -> None:
        """Let the worker finish what it has and exit (end of its input)."""
        with self._send, contextlib.suppress(OSError):
            self.process.stdin.close()  # type: ignore[union-attr]

    def _answers(self) -> None:
        answers = self.process.stdout
        assert answers is not None
        if read_frame(answers) == READY:
            self.ready.set()
            while (frame := read_frame(answers)) is not None:
                ok, value = pickle.loads(frame)
                future = self._pending.popleft()
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        code = self.process.wait()
        self._fail(f"exited with code {code}")

    def _fail(self, why: str) -> None:
        if self.failure is None:
            self.failure = PageWorkerError(f"page worker {self.process.pid} {why}")
        while self._pending:
            pending = self._pending.popleft()
            if not pending.done():
                pending.set_exception(self.failure)


class DecodeReport(Protocol):
    """Where a decoder reports (the run's progress)."""

    def warn(self, message: str) -> None: ...

    def decoded(self, in_worker: bool) -> None: ...


class PageDecoder:
    """Decodes a run's pages in `processes` page workers once they are up, and in the calling
    thread until then, for pages wanted as dicts (no job), with `processes=0`, or after a
    worker failed. Remembers, per table, the columns stored as JSON text."""

    def __init__(self, processes: int, report: DecodeReport) -> None:
        self.processes = processes
        self.report = report
        self._workers: list[PageWorker] = []
        self._json: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()
        self._busy = 0
        self._last_used = 0.0
        self._disabled = processes <= 0

    def json_columns(self, table: str) -> frozenset[str]:
        return self._json.get(table, frozenset())

    def decode(self, body: bytes, job: PageJob | None = None) -> DecodedPage:
        """Parse, check and convert a page (raises `MalformedPage`)."""
        if job is not None:
            job = dataclasses.replace(job, known_json=tuple(self._json.items()))
        worker = self._take_worker() if job is not None else None
        try:
            page = self._in_worker(worker, body, job) if worker else None
        finally:
            if worker is not None:
                self._release()
        self.report.decoded(in_worker=page is not None)
        if page is None:
            with page_work:
                page = decode_page(body, job)
        self._learn(page)
        return page

    def start(self, wait: float = 0.0) -> list[int]:
        """Start the workers now (else the first page does) and wait up to `wait` seconds
        for them to be ready; their process ids."""
        with self._lock:
            self._last_used = time.monotonic()
            workers = self._started()
        deadline = time.monotonic() + wait
        for worker in workers:
            worker.ready.wait(max(0.0, deadline - time.monotonic()))
        return [worker.process.pid for worker in workers]

    def close(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.close()

    def _started(self) -> list[PageWorker]:
        if not self._workers and not self._disabled:
            try:
                self._workers = [PageWorker() for _ in range(self.processes)]
            except OSError as exc:  # cannot start a process here: decode in this one
                self._disabled = True
                self.report.warn(
                    f"Could not start page workers ({exc}); decoding pages in the run's process"
                )
                return []
            threading.Thread(target=self._stop_when_idle, daemon=True).start()
        return self._workers

    def _in_worker(self, worker: PageWorker, body: bytes, job: PageJob) -> DecodedPage | None:
        try:
            return worker.submit(body, job).result()
        except PageWorkerError as exc:
            self._give_up(exc)
            return None

    def _give_up(self, exc: PageWorkerError) -> None:
        with self._lock:
            if not self._disabled:
                self._disabled = True
                self.report.warn(f"{exc}; decoding pages in the run's process from now on")
        self.close()

    def _take_worker(self) -> PageWorker | None:
        with self._lock:
            if self._disabled:
                return None
            self._last_used = time.monotonic()
            workers = self._started()
            ready = [w for w in workers if w.ready.is_set() and w.failure is None]
            failed = next((w.failure for w in workers if w.failure), None)
            if ready and failed is None:
                self._busy += 1
                return min(ready, key=lambda w: w.load)
        if failed is not None:  # it died, or could not start
            self._give_up(failed)
        return None  # starting: this page is decoded here

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1
            self._last_used = time.monotonic()

    def _stop_when_idle(self) -> None:
        workers = self._workers
        while True:
            time.sleep(IDLE_SECONDS / 4)
            with self._lock:
                if self._workers is not workers:
                    return
                if self._busy == 0 and time.monotonic() - self._last_used > IDLE_SECONDS:
                    self._workers = []
                    break
        for worker in workers:
            worker.close()

    def _learn(self, page: DecodedPage) -> None:
        for table, columns in page.json_columns.items():
            if not columns <= self._json.get(table, frozenset()):
                with self._lock:  # a new dict: readers iterate theirs without the lock
                    self._json = {**self._json, table: self._json.get(table, frozenset()) | columns}
