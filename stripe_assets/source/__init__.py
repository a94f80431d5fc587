"""The dlt source `stripe`: one resource per table in `stripe_assets.tables`.

Top-level tables page their list endpoint over a `created` window, with several cursors on
`created` slices when the window is wide (`slicing.py`). A parent with children is paged once
by a hidden resource that feeds transformers: the parent table (embedded list dropped) and
the child table (the embedded first page, plus the child endpoint only when Stripe says
`has_more`). Pages are parsed and converted to Arrow by page worker processes
(`stripe_assets.pages`), so dlt writes parquet while extracting and does no per-row
normalization. Requests share the run's budget (`budget.py`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import dlt
import pyarrow as pa
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource

from stripe_assets.pages.decode import ChildTodo, DecodedPage, PageJob
from stripe_assets.pages.memory import bound_allocators, release_freed_memory
from stripe_assets.settings import DATASET_NAME, PIPELINE_NAME, StripeSettings
from stripe_assets.source.client import StripeClient
from stripe_assets.source.errors import StripeNotFoundError, StripePermissionError
from stripe_assets.source.hints import merge_hints
from stripe_assets.source.items import batch_item, concat, quiet_json_hint_warnings
from stripe_assets.source.progress import RunProgress
from stripe_assets.source.slicing import CreatedWindow, SlicedWalk, WalkerGate
from stripe_assets.tables import TABLES, StripeTable, children_of


class _Run:
    """One run's client, thread pools and walker gate, built on first use (never at import,
    so the key is resolved when a run starts)."""

    def __init__(
        self, settings: StripeSettings | Callable[[], StripeSettings], progress: RunProgress
    ) -> None:
        self._settings = settings
        self.progress = progress
        self._client: StripeClient | None = None
        self._walkers: ThreadPoolExecutor | None = None
        self._children: dict[str, ThreadPoolExecutor] = {}
        self._child_walkers: ThreadPoolExecutor | None = None
        self._gate: WalkerGate | None = None
        self._lock = threading.Lock()

    def get(self) -> StripeClient:
        with self._lock:
            if self._client is None:
                settings = self._settings() if callable(self._settings) else self._settings
                self._client = StripeClient(settings, self.progress)
                workers = settings.max_workers
                # One spare thread per table: a table's first walker never waits for a split.
                self._walkers = ThreadPoolExecutor(
                    workers + len(TABLES), thread_name_prefix="stripe-list"
                )
                # One pool per child table: a flood of invoice-line requests never queues a
                # payout's transactions behind it (that left them for the end of the run).
                self._children = {
                    kid.name: ThreadPoolExecutor(workers, thread_name_prefix=f"stripe-{kid.name}")
                    for kid in TABLES
                    if kid.is_child
                }
                # Apart from the list walkers: those may all wait on a full queue whose
                # consumer waits (through dlt) on the children, which need these threads.
                self._child_walkers = ThreadPoolExecutor(
                    workers, thread_name_prefix="stripe-child-walk"
                )
                self._gate = WalkerGate(self._client, workers)
            return self._client

    def walk(
        self, table: StripeTable, window: CreatedWindow, job: PageJob, convert: Callable
    ) -> SlicedWalk:
        client = self.get()
        assert self._walkers is not None and self._gate is not None
        if not table.created_filter:
            job = replace(job, window=(window.gte, window.lt))
        return SlicedWalk(
            client,
            table.path,
            dict(table.params),
            window,
            table=table.name,
            executor=self._walkers,
            gate=self._gate,
            job=job,
            convert=convert,
            queue_pages=max(8, client.settings.max_workers),
            created_filter=table.created_filter,
        )

    def walk_children(
        self, table: str, path: str, params: dict[str, Any], job: PageJob
    ) -> SlicedWalk:
        """One parent's child list with no known `created` range (a payout's transactions),
        walked by several cursors when long."""
        client = self.get()
        assert self._child_walkers is not None and self._gate is not None
        return SlicedWalk(
            client,
            path,
            params,
            CreatedWindow(),
            table=table,
            executor=self._child_walkers,
            gate=self._gate,
            job=job,
            convert=_table_of,
            split_open_below=True,
        )

    def json_columns(self, table: str) -> frozenset[str]:
        """Columns of `table` the run stores as JSON text (hinted `json` to dlt)."""
        return self.get().decoder.json_columns(table)

    def children(self, table: str) -> ThreadPoolExecutor:
        self.get()
        return self._children[table]

    @property
    def gate(self) -> WalkerGate | None:
        return self._gate


# dlt spends a fixed few milliseconds per item (hint validation, schema merge): items of a
# few thousand rows keep that negligible while memory stays small (Arrow, not dicts).
BATCH_ROWS = 5_000
# ... or whatever arrived within this time, so children requests start early when Stripe is
# the bottleneck (a batch of parents feeds the child requests).
BATCH_SECONDS = 0.5


@dataclass
class ParentBatch:
    """Pages of a parent table with what its children need: the embedded child rows (as
    Arrow) and the parents whose children need requests, as `(parent id, cursor)`."""

    parents: list[pa.Table] = field(default_factory=list)
    embedded: dict[str, list[pa.Table]] = field(default_factory=dict)
    more: dict[str, list[ChildTodo]] = field(default_factory=dict)
    rows: int = 0

    def extend(self, other: ParentBatch) -> None:
        self.parents += other.parents
        for name, tables in other.embedded.items():
            self.embedded.setdefault(name, []).extend(tables)
        for name, todo in other.more.items():
            self.more.setdefault(name, []).extend(todo)
        self.rows += other.rows


def _batched(items: Iterator[Any], size: Callable[[Any], int], merge: Callable) -> Iterator[Any]:
    """Group converted pages into batches of BATCH_ROWS rows or BATCH_SECONDS of arrivals
    (None passes through: it hands dlt's worker thread back while walkers wait on Stripe)."""
    held: list[Any] = []
    rows = 0
    since = 0.0
    for item in items:
        if item is not None:
            if not held:
                since = time.monotonic()
            held.append(item)
            rows += size(item)
        if held and (rows >= BATCH_ROWS or time.monotonic() - since >= BATCH_SECONDS):
            yield merge(held)
            held, rows = [], 0
            release_freed_memory()
        elif item is None:
            yield None
    if held:
        yield merge(held)


def _table_of(page: DecodedPage) -> pa.Table | None:
    return page.table


def _table_resource(
    table: StripeTable, run: _Run, window: CreatedWindow
) -> Callable[[], Iterator[Any]]:
    if table.snapshot:
        window = CreatedWindow()  # the whole list, every run

    def pages() -> Iterator[Any]:
        walk = run.walk(table, window, PageJob(table.name), _table_of)
        rows = 0
        for item in _batched(
            iter(walk),
            lambda t: t.num_rows,
            lambda ts: batch_item(run.json_columns(table.name), ts),
        ):
            rows += 0 if item is None else 1
            yield item
        if table.snapshot and not rows and table.name not in run.progress.unavailable_tables:
            yield dlt.mark.materialize_table_schema()  # an empty list empties the snapshot

    return pages


def _parent_resource(
    table: StripeTable, run: _Run, window: CreatedWindow, kids: list[StripeTable]
) -> Callable[[], Iterator[ParentBatch]]:
    job = PageJob(table.name, kids=tuple(kid.name for kid in kids))

    def split(page: DecodedPage) -> ParentBatch:
        """The page's parents (as Arrow) and its children's share."""
        assert page.table is not None
        for kid, rows in page.embedded.items():
            run.progress.embedded(kid, rows.num_rows)
        return ParentBatch(
            parents=[page.table],
            embedded={kid: [rows] for kid, rows in page.embedded.items()},
            more=page.more,
            rows=page.count,
        )

    def merge(batches: list[ParentBatch]) -> ParentBatch:
        merged = ParentBatch()
        for batch in batches:
            merged.extend(batch)
        return merged

    def pages() -> Iterator[ParentBatch]:
        walk = run.walk(table, window, job, split)
        yield from _batched(iter(walk), lambda b: b.rows, merge)

    return pages


def _parent_table(table: StripeTable, run: _Run) -> Callable[[ParentBatch], Any]:
    def parents(batch: ParentBatch) -> Any:
        return batch_item(run.json_columns(table.name), batch.parents)

    return parents


def _children(table: StripeTable, run: _Run) -> Callable[[ParentBatch], Any]:
    link = table.child
    assert link is not None

    def rest_of(todo: ChildTodo) -> pa.Table | None:
        """The children of one parent that were not embedded, as Arrow."""
        parent_id, starting_after = todo
        path = link.path.replace("{id}", parent_id)
        params = {k: v.replace("{id}", parent_id) for k, v in link.params.items()}
        job = PageJob(table.name, tag=(link.parent_column, parent_id))
        client = run.get()
        if starting_after is None and not link.embedded_field:
            tables: Iterator[pa.Table | None] = iter(
                run.walk_children(table.name, path, params, job)
            )
        else:
            tables = (
                page.table
                for page in client.iter_decoded(
                    path, params, table=table.name, job=job, starting_after=starting_after
                )
            )
        try:
            fetched = [t for t in tables if t is not None and t.num_rows]
        except StripeNotFoundError as exc:
            # The parent was deleted mid-run: its children are gone with it.
            client.progress.skipped_parent(table.name, parent_id, str(exc))
            return None
        except StripePermissionError as exc:  # the key may not read this child list
            client.progress.unavailable(table.name, str(exc))
            return None
        return concat(fetched) if fetched else None

    def children(batch: ParentBatch) -> Any:
        """All children of a batch of parents (requests in parallel) as one item."""
        fetched = list(run.children(table.name).map(rest_of, batch.more.get(table.name, [])))
        tables = [*batch.embedded.get(table.name, []), *fetched]
        return batch_item(run.json_columns(table.name), tables)

    return children


def _hints(table: StripeTable) -> dict[str, Any]:
    return {"name": table.name, **merge_hints(table)}


def stripe_resources(
    window: CreatedWindow, run: _Run, tables: Sequence[str] | None = None
) -> list[DltResource]:
    """One dlt resource per table (plus hidden page feeders for parents with children)."""
    resources: list[DltResource] = []
    for table in TABLES:
        if table.is_child:
            continue
        kids = children_of(table.name)
        if not kids:
            resources.append(
                dlt.resource(
                    _table_resource(table, run, window), parallelized=True, **_hints(table)
                )
            )
            continue
        pages = _parent_resource(table, run, window, kids)
        feeder = dlt.resource(pages, name=f"{table.name}_pages", selected=False, parallelized=True)
        resources.append(
            dlt.transformer(_parent_table(table, run), data_from=feeder, **_hints(table))
        )
        for kid in kids:
            resources.append(
                dlt.transformer(
                    _children(kid, run),
                    data_from=feeder,
                    parallelized=True,
                    **_hints(kid),
                )
            )
    if tables is not None:
        unknown = set(tables) - {t.name for t in TABLES}
        if unknown:
            raise ValueError(f"Unknown Stripe tables {sorted(unknown)}")
        resources = [r for r in resources if r.name in tables]
    return resources


def keep_dlt_columns() -> None:
    """Arrow items get `_dlt_load_id` and `_dlt_id` like JSON rows do (same warehouse schema).
    Explicit settings (config.toml, environment) win over these defaults."""
    for option in ("add_dlt_load_id", "add_dlt_id"):
        key = f"normalize.parquet_normalizer.{option}"
        if dlt.config.get(key) is None:
            dlt.config[key] = True


# DuckDB caches up to 80% of RAM by default: its load step grew with volume (850 MB at 250k
# rows). Bounded, it spills to its temp directory instead. 256 MB doubled the load time of
# 250k rows; 384 MB keeps a 1,000,000-row backfill at ~800 MB peak RSS (512 MB: ~950 MB).
DUCKDB_MEMORY_LIMIT = "384MB"


def bound_duckdb_memory() -> None:
    """Default `memory_limit` of DuckDB connections opened by dlt (explicit config wins)."""
    key = "destination.duckdb.credentials.global_config"
    if dlt.config.get(key) is None:
        dlt.config[key] = {"memory_limit": DUCKDB_MEMORY_LIMIT}


def stripe_source(
    window: CreatedWindow | None = None,
    settings: StripeSettings | Callable[[], StripeSettings] = StripeSettings.resolve,
    progress: RunProgress | None = None,
    tables: Sequence[str] | None = None,
) -> DltSource:
    """The `stripe` dlt source. Nothing is requested (and no key read) until extraction."""
    quiet_json_hint_warnings()
    bound_allocators()
    keep_dlt_columns()
    bound_duckdb_memory()
    run = _Run(settings, progress or RunProgress())
    resources = stripe_resources(window or CreatedWindow(), run, tables)

    @dlt.source(name=PIPELINE_NAME, max_table_nesting=0, schema_contract="evolve")
    def stripe() -> list[DltResource]:
        return resources

    return stripe()


__all__ = ["DATASET_NAME", "CreatedWindow", "stripe_source"]
