"""The dlt source `stripe`: one resource per table in `stripe_assets.tables`.

Top-level tables page their list endpoint over a `created` window. A parent whose children
arrive embedded (invoice lines, subscription items) is paged once by a hidden resource that
feeds two transformers: the parent table (embedded list dropped) and the child table (the
embedded first page, plus the child endpoint only when Stripe says `has_more`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import dlt
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource

from stripe_assets.settings import DATASET_NAME, PIPELINE_NAME, StripeSettings
from stripe_assets.source.client import StripeClient
from stripe_assets.source.errors import StripeNotFoundError
from stripe_assets.source.progress import RunProgress
from stripe_assets.tables import TABLES, StripeTable, children_of, embedded_fields_of

Row = dict[str, Any]
Page = list[Row]


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


class _LazyClient:
    """Builds the StripeClient (and resolves the key) on first use, never at import."""

    def __init__(
        self, settings: StripeSettings | Callable[[], StripeSettings], progress: RunProgress
    ) -> None:
        self._settings = settings
        self.progress = progress
        self._client: StripeClient | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def get(self) -> StripeClient:
        with self._lock:
            if self._client is None:
                settings = self._settings() if callable(self._settings) else self._settings
                self._client = StripeClient(settings, self.progress)
            return self._client

    def executor(self) -> ThreadPoolExecutor:
        client = self.get()
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    client.settings.max_workers, thread_name_prefix="stripe-child"
                )
            return self._executor


def _list_resource(
    table: StripeTable, lazy: _LazyClient, window: CreatedWindow
) -> Callable[[], Iterator[Page]]:
    def pages() -> Iterator[Page]:
        yield from lazy.get().iter_pages(
            table.path, {**table.params, **window.params()}, table=table.name
        )

    return pages


def _drop_fields(fields: tuple[str, ...]) -> Callable[[Page], Iterator[Page]]:
    def strip(page: Page) -> Iterator[Page]:
        yield [{k: v for k, v in row.items() if k not in fields} for row in page]

    return strip


def _children(table: StripeTable, lazy: _LazyClient) -> Callable[[Page], Iterator[Page]]:
    link = table.child
    assert link is not None

    def of_parent(parent: Row) -> Page:
        parent_id = parent["id"]
        rows: Page = []
        starting_after = None
        if link.embedded_field:
            embedded = parent.get(link.embedded_field) or {}
            rows.extend(embedded.get("data") or [])
            if not embedded.get("has_more"):
                return _tag(rows, link.parent_column, parent_id)
            starting_after = rows[-1]["id"] if rows else None
        path = link.path.replace("{id}", parent_id)
        params = {k: v.replace("{id}", parent_id) for k, v in link.params.items()}
        client = lazy.get()
        try:
            for page in client.iter_pages(
                path, params, table=table.name, starting_after=starting_after
            ):
                rows.extend(page)
        except StripeNotFoundError as exc:
            # The parent was deleted mid-run: its children are gone with it.
            client.progress.skipped_parent(table.name, parent_id, str(exc))
            return []
        return _tag(rows, link.parent_column, parent_id)

    def children(parents: Page) -> Iterator[Page]:
        for rows in lazy.executor().map(of_parent, parents):
            if rows:
                yield rows

    return children


def _tag(rows: Page, column: str, parent_id: str) -> Page:
    for row in rows:
        row[column] = parent_id
    return rows


def _hints(table: StripeTable) -> dict[str, Any]:
    """Merge on the primary key. A child table also carries its parent id as merge key, so
    a reloaded parent's children replace the old ones (a removed line or item disappears).
    """
    hints: dict[str, Any] = {
        "name": table.name,
        "primary_key": list(table.primary_key),
        "write_disposition": {"disposition": "merge", "strategy": "delete-insert"},
        "columns": {
            **{key: {"data_type": "text", "nullable": False} for key in table.primary_key},
            **table.columns,
        },
    }
    if table.child:
        hints["merge_key"] = table.child.parent_column
    return hints


def stripe_resources(
    window: CreatedWindow, lazy: _LazyClient, tables: Sequence[str] | None = None
) -> list[DltResource]:
    """One dlt resource per table (plus hidden page feeders for parents with embedded lists)."""
    resources: list[DltResource] = []
    for table in TABLES:
        if table.is_child:
            continue
        pages = _list_resource(table, lazy, window)
        embedded = embedded_fields_of(table.name)
        if embedded:
            feeder = dlt.resource(
                pages, name=f"{table.name}_pages", selected=False, parallelized=True
            )
            parent = dlt.transformer(_drop_fields(embedded), data_from=feeder, **_hints(table))
        else:
            feeder = parent = dlt.resource(pages, parallelized=True, **_hints(table))
        resources.append(parent)
        for child in children_of(table.name):
            resources.append(
                dlt.transformer(_children(child, lazy), data_from=feeder, **_hints(child))
            )
    if tables is not None:
        unknown = set(tables) - {t.name for t in TABLES}
        if unknown:
            raise ValueError(f"Unknown Stripe tables {sorted(unknown)}")
        resources = [r for r in resources if r.name in tables]
    return resources


def stripe_source(
    window: CreatedWindow | None = None,
    settings: StripeSettings | Callable[[], StripeSettings] = StripeSettings.resolve,
    progress: RunProgress | None = None,
    tables: Sequence[str] | None = None,
) -> DltSource:
    """The `stripe` dlt source. Nothing is requested (and no key read) until extraction."""
    lazy = _LazyClient(settings, progress or RunProgress())
    resources = stripe_resources(window or CreatedWindow(), lazy, tables)

    @dlt.source(name=PIPELINE_NAME, max_table_nesting=0, schema_contract="evolve")
    def stripe() -> list[DltResource]:
        return resources

    return stripe()


__all__ = ["DATASET_NAME", "CreatedWindow", "stripe_source"]
