"""Stripe's `/v1/events`: what changed since a cursor, and which objects were deleted.

Used by the events sensor (changes -> partitions to reload) and by every run (deleted
objects -> hard deletes, because Stripe's lists simply stop returning deleted customers and
deleted draft invoices). Stripe keeps events for 30 days only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import dlt
import orjson
import pyarrow as pa
from dlt.extract.resource import DltResource
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

from stripe_assets.source import CreatedWindow
from stripe_assets.source.client import StripeClient
from stripe_assets.source.hints import merge_hints
from stripe_assets.tables import (
    TABLES_BY_NAME,
    children_of,
    deletion_events,
    table_of_object,
)

Event = dict[str, Any]

EVENTS_PATH = "/v1/events"

# Stripe object type (`data.object.object`) -> the table that holds it, and the events that
# remove objects from Stripe's lists, both from the registry. Child rows (invoice lines,
# subscription items, payout transactions) change through their parent's events.
# (`customer.subscription.deleted` is a cancellation: the subscription stays listed with
# status=canceled, so it is no deletion event.)
OBJECT_TABLES: dict[str, str] = table_of_object()
DELETION_EVENTS: dict[str, str] = deletion_events()
DELETED_COLUMN = "deleted"
_CHILD_STUB_ID = "__parent_deleted__"


class _NewerPaginator(BasePaginator):
    """Walk forward in time: `ending_before` = newest event id seen, until `has_more` is false."""

    def __init__(self, after_id: str) -> None:
        super().__init__()
        self._cursor = after_id

    def init_request(self, request: Request) -> None:
        request.params["ending_before"] = self._cursor

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        page = response.stripe_page  # type: ignore[attr-defined]
        if page.has_more and page.count:
            self._cursor = page.first_id
        else:
            self._has_next_page = False

    def update_request(self, request: Request) -> None:
        request.params["ending_before"] = self._cursor


class StripeEvents:
    """Reads `/v1/events` with a project `StripeClient` (budget, retries, counters)."""

    def __init__(self, client: StripeClient) -> None:
        self.client = client

    def newest(self) -> Event | None:
        """The most recent event, or None when the account has none (within retention)."""
        for page in self.client.iter_pages(EVENTS_PATH, {"limit": 1}, table=EVENTS_PATH):
            return page[0] if page else None
        return None

    def newer_than(self, event_id: str, max_pages: int) -> tuple[list[Event], bool]:
        """Events after `event_id`, oldest first, at most `max_pages` pages; and whether more
        are waiting. Raises `StripeInvalidRequestError` when the id is past retention.
        """
        events: list[Event] = []
        paginator = _NewerPaginator(event_id)
        pages = self.client.iter_pages(EVENTS_PATH, table=EVENTS_PATH, paginator=paginator)
        for n, page in enumerate(pages, start=1):
            events.extend(reversed(page))  # each page is newest first
            if n >= max_pages:
                return events, paginator.has_next_page
        return events, False

    def since(self, created_gte: int, max_pages: int) -> tuple[list[Event], bool]:
        """Events created at or after `created_gte` (oldest first), at most `max_pages` pages
        of the newest ones; and whether older ones were left unread.
        """
        events: list[Event] = []
        pages = self.client.iter_pages(
            EVENTS_PATH, {"created[gte]": created_gte}, table=EVENTS_PATH
        )
        for n, page in enumerate(pages, start=1):
            events.extend(page)
            if n >= max_pages:
                return list(reversed(events)), True
        return list(reversed(events)), False

    def of_types(self, types: Sequence[str]) -> Iterator[Event]:
        """Every retained event of these types, newest first."""
        params = {"types[]": list(types)}
        for page in self.client.iter_pages(EVENTS_PATH, params, table=EVENTS_PATH):
            yield from page


def is_expired_cursor(exc: Exception) -> bool:
    """A 400 `resource_missing` on `ending_before`/`starting_after`: the cursor event is gone
    (older than Stripe's 30-day retention).
    """
    response = getattr(exc, "response", None)
    if response is None or response.status_code != 400:
        return False
    try:
        error = orjson.loads(response.content).get("error") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return False
    return error.get("code") == "resource_missing" and error.get("param") in (
        "ending_before",
        "starting_after",
    )


def deleted_ids(
    events: StripeEvents, window: CreatedWindow, tables: Sequence[str]
) -> dict[str, list[str]]:
    """Ids of objects of `tables` created in `window` whose deletion Stripe reported."""
    types = [t for t, table in DELETION_EVENTS.items() if table in tables]
    found: dict[str, set[str]] = {DELETION_EVENTS[t]: set() for t in types}
    if not types:
        return {}
    lo = window.gte if window.gte is not None else -(1 << 62)
    hi = window.lt if window.lt is not None else 1 << 62
    for event in events.of_types(types):
        obj = event.get("data", {}).get("object") or {}
        created = obj.get(TABLES_BY_NAME[DELETION_EVENTS[event["type"]]].created_field)
        if isinstance(created, int) and lo <= created < hi and obj.get("id"):
            found[DELETION_EVENTS[event["type"]]].add(obj["id"])
    return {table: sorted(ids) for table, ids in found.items()}


def deletion_resources(deleted: dict[str, list[str]], selected: Sequence[str]) -> list[DltResource]:
    """Stub rows flagged with dlt's `hard_delete` hint: merging them removes the objects (and,
    through the child merge key, every child row of a deleted parent).
    """
    hint = {DELETED_COLUMN: {"data_type": "bool", "hard_delete": True}}
    resources = []
    for table_name, ids in deleted.items():
        if not ids:
            continue
        targets = [TABLES_BY_NAME[table_name], *children_of(table_name)]
        for table in targets:
            if table.name not in selected:
                continue
            link = table.child
            hints = merge_hints(table)
            # Arrow, like the source's own loads (no _dlt_id/_dlt_load_id columns added).
            stubs = {"id": [_CHILD_STUB_ID] * len(ids) if link else ids}
            if link:
                stubs = {link.parent_column: ids, **stubs}
            stubs[DELETED_COLUMN] = [True] * len(ids)
            resources.append(
                dlt.resource(
                    [pa.table(stubs)],
                    name=f"{table.name}_deleted",
                    table_name=table.name,
                    **{**hints, "columns": {**hints["columns"], **hint}},
                )
            )
    return resources
