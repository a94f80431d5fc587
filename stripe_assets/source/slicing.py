"""Walk one Stripe list over a `created` window with several cursors at once.

Stripe lists newest first. A walk starts with one cursor over the whole window; after each
page, while the request budget has room and the run has idle walkers, the part of the window
not yet read (`[gte, created of the last row]`) is estimated from the rows seen so far and,
if it holds several pages, it is cut into as many equal parts as there are idle walkers (each
at least MIN_SPLIT_PAGES pages): the older parts go to new walkers while this one continues
its cursor over the newest part (the next request simply carries `created[gte]=cut`). One
cut reaches full concurrency after the first page, where halving took a round trip per
doubling. The slices are half-open and disjoint, so every object is read exactly
once; a narrow or small window costs no extra request. Pages stream through a bounded queue:
at most `queue_pages` pages per table wait in memory.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from requests import Request

from stripe_assets.pages.decode import DecodedPage, PageJob
from stripe_assets.settings import PAGE_LIMIT
from stripe_assets.source.client import StripeClient, StripeCursorPaginator
from stripe_assets.source.errors import StripePermissionError

T = TypeVar("T")

# Split only when the unread part is estimated at this many pages or more.
MIN_SPLIT_PAGES = 3
# A list open below hands off this many bounded parts (and the rest) per split.
OPEN_SPLIT_PARTS = 3
_DONE = object()


@dataclass(frozen=True)
class CreatedWindow:
    """`created[gte]` / `created[lt]` in Unix seconds; either end may be open."""

    gte: int | None = None
    lt: int | None = None

    def params(self) -> dict[str, int]:
        params = {}
        if self.gte is not None:
            params["created[gte]"] = self.gte
        if self.lt is not None:
            params["created[lt]"] = self.lt
        return params


class FlooredPaginator(StripeCursorPaginator):
    """Stripe's cursor paginator whose `created[gte]` may be raised between pages."""

    def __init__(self, starting_after: str | None = None) -> None:
        super().__init__(starting_after)
        self._request: Request | None = None

    def init_request(self, request: Request) -> None:
        super().init_request(request)
        self._request = request

    def raise_floor(self, gte: int) -> None:
        """Later pages only cover `created >= gte` (the request object is reused)."""
        assert self._request is not None
        self._request.params["created[gte]"] = gte


class WalkerGate:
    """The run's split policy: walkers are capped, shared fairly between the lists being
    walked (so a parent whose children need requests is not starved by a bigger table and
    left for the end), and none is added while the request budget is already saturated
    (more cursors would only queue for tokens). A list open below (a payout's transactions,
    one chain of pages) is only refused while its own table queues: the budget serves waiting
    tables in turn, so its extra cursors do send more, and it is not left alone at the end."""

    def __init__(self, client: StripeClient, max_walkers: int) -> None:
        self.client = client
        self.max_walkers = max_walkers
        self.active = 0
        self._by_list: Counter[str] = Counter()
        self._lock = threading.Lock()

    def enter(self, walk: str) -> None:
        with self._lock:
            self.active += 1
            self._by_list[walk] += 1

    def leave(self, walk: str) -> None:
        with self._lock:
            self.active -= 1
            self._by_list[walk] -= 1
            if not self._by_list[walk]:
                del self._by_list[walk]

    def try_split(self, walk: str, wanted: int = 1, table: str | None = None) -> int:
        """Reserve up to `wanted` new walkers for `walk`; how many were granted. With `table`,
        refused only while that table's requests queue for tokens."""
        with self._lock:
            budget = self.client.http.budget
            if budget.saturated if table is None else budget.queued(table):
                return 0
            fair_share = -(-self.max_walkers // max(1, len(self._by_list)))
            granted = min(
                wanted,
                self.max_walkers - self.active,
                fair_share - self._by_list[walk],
            )
            if granted <= 0:
                return 0
            self.active += granted
            self._by_list[walk] += granted
            return granted


class SlicedWalk(Generic[T]):
    """Iterate a list endpoint's pages (decoded per `job`, as dicts without one, then passed
    through `convert`) over
    `window`, walked by up to `gate.max_walkers` concurrent cursors (shared by the run) on
    `executor`.
    """

    def __init__(
        self,
        client: StripeClient,
        path: str,
        params: dict[str, Any],
        window: CreatedWindow,
        *,
        table: str,
        executor: Executor,
        gate: WalkerGate,
        convert: Callable[[DecodedPage], T],
        job: PageJob | None = None,
        queue_pages: int = 16,
        poll_seconds: float = 0.05,
        split_open_below: bool = False,
        created_filter: bool = True,
    ) -> None:
        self.client = client
        self.path = path
        self.params = params
        self.window = window
        self.table = table
        self.executor = executor
        self.gate = gate
        self.job = job
        self.convert = convert
        self.poll_seconds = poll_seconds
        self.split_open_below = split_open_below
        self.created_filter = created_filter
        """False: Stripe cannot filter the list by `created`. One cursor walks it newest
        first (the job keeps the rows inside the window) and stops at the first page that
        reaches below the window; an old window costs every newer page."""
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_pages)
        self._pending = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._denied = False
        """Stripe refused the list (403): the table is unavailable to this key, the walk
        ends without rows (the run reports it; other tables load)."""
        self._name = f"{path}?{sorted(params.items())}"
        self.slices: list[tuple[int | None, int | None]] = []
        """The `[gte, lt)` each walker finally covered (after handing off older halves)."""

    # -- producer side ---------------------------------------------------------------------

    def _start(self, gte: int | None, lt: int | None) -> None:
        with self._lock:
            self._pending += 1
        self.executor.submit(self._walk, gte, lt)

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=self.poll_seconds)
                return
            except queue.Full:
                continue

    def _walk(self, gte: int | None, lt: int | None) -> None:
        try:
            self._walk_slice(gte, lt)
        except StripePermissionError as exc:
            if not self._denied:
                self._denied = True
                self.client.progress.unavailable(self.table, str(exc))
            self._stop.set()
        except BaseException as exc:
            self._error = self._error or exc  # the consumer re-raises it
            self._stop.set()
        finally:
            self.gate.leave(self._name)
            with self._lock:
                self._pending -= 1
                last = self._pending == 0
            if last:
                self._put(_DONE)

    def _walk_slice(self, gte: int | None, lt: int | None) -> None:
        paginator = FlooredPaginator()
        params = dict(self.params)
        if self.created_filter:
            params.update(CreatedWindow(gte, lt).params())
        seen = 0
        newest: int | None = None
        for page in self.client.iter_decoded(
            self.path, params, table=self.table, job=self.job, paginator=paginator
        ):
            if self._stop.is_set():
                return
            if page.count:
                self._put(self.convert(page))
            seen += page.count
            if not self.created_filter:
                if gte is not None and page.last_created is not None and page.last_created < gte:
                    break  # newest first: every later page is older than the window
                continue
            if not paginator.has_next_page or page.last_created is None:
                continue  # (no `created` on the objects: nothing to split on)
            newest = newest if newest is not None else int(page.first_created or 0)
            oldest = int(page.last_created)  # everything unread is in [gte, oldest]
            if gte is None:
                cuts = self._open_split_points(lt, newest, oldest, seen)
            else:
                cuts = self._split_points(gte, lt, oldest, seen)
            if cuts:
                # The oldest part keeps `gte` (None: still open below).
                for older, newer in zip([gte, *cuts[:-1]], cuts, strict=True):
                    self._start(older, newer)
                gte = cuts[-1]
                paginator.raise_floor(gte)
        with self._lock:
            self.slices.append((gte, lt))

    def _split_points(self, gte: int, lt: int | None, oldest: int, seen: int) -> list[int]:
        """Ascending cuts of `[gte, oldest]` into parts for new walkers (empty: no split)."""
        span = oldest - gte + 1
        if span < 2:
            return []
        read_span = max(1, (lt if lt is not None else oldest + 1) - oldest)
        unread_pages = seen * span / read_span / PAGE_LIMIT
        parts = min(span, int(unread_pages // MIN_SPLIT_PAGES))
        if parts < 2:
            return []
        parts = 1 + self.gate.try_split(self._name, parts - 1)
        return [gte + span * i // parts for i in range(1, parts)]

    def _open_split_points(self, lt: int | None, newest: int, oldest: int, seen: int) -> list[int]:
        """Cuts below `oldest` for a window open below (a payout's transactions: how far back
        is unknown), judged by the density seen. This walker keeps the next ~MIN_SPLIT_PAGES
        pages; parts of 2x and 4x that many go to new walkers (which split further when
        dense), and everything older to one more walker that does the same, so a long list is
        soon walked by several cursors, at the cost of about one partial page per part
        (empty: do not split)."""
        if not self.split_open_below:
            return []
        read_span = max(1, (lt if lt is not None else newest + 1) - oldest)
        span = max(1, int(MIN_SPLIT_PAGES * PAGE_LIMIT * read_span / max(1, seen)))
        cuts = [oldest - span * (2**size - 1) for size in range(1, OPEN_SPLIT_PARTS + 1)]
        cuts = [cut for cut in cuts if cut >= 1]
        granted = self.gate.try_split(self._name, len(cuts), self.table)
        return sorted(cuts[:granted])

    # -- consumer side ---------------------------------------------------------------------

    def __iter__(self) -> Iterator[T | None]:
        """Pages as they arrive; `None` while waiting (lets dlt's worker thread go)."""
        self.gate.enter(self._name)
        self._start(self.window.gte, self.window.lt)
        try:
            while True:
                if self._error is not None:
                    raise self._error
                if self._denied:
                    return
                try:
                    item = self._queue.get(timeout=self.poll_seconds)
                except queue.Empty:
                    yield None
                    continue
                if item is _DONE:
                    return
                yield item
        finally:
            self._stop.set()
