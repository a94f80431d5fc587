"""Daily UTC partitions, their mapping to Stripe `created` windows, and the checks that turn
a bad partition key or range into one message naming the fix (used by `stripe-assets
materialize` before Dagster starts, and by every run before its first request)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from dagster import AssetExecutionContext, DailyPartitionsDefinition, Failure
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from stripe_assets.settings import START_DATE_ENV, start_date
from stripe_assets.source import CreatedWindow

daily_partitions = DailyPartitionsDefinition(start_date=start_date(), timezone="UTC")

RANGE_SEPARATOR = "..."
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class BadPartitionError(ValueError):
    """A partition key or range that the daily partitions definition does not hold."""


def valid_days() -> tuple[str, str | None]:
    """First and last partition keys: STRIPE_START_DATE and yesterday (UTC), or None as the
    last while the first day is not over yet."""
    return daily_partitions.start.strftime("%Y-%m-%d"), daily_partitions.get_last_partition_key()


def _rules(move_hint: bool = True) -> str:
    """The valid keys (and how to move the first one), for the end of every message."""
    first, last = valid_days()
    days = (
        f"from {first} ({START_DATE_ENV}) to {last} (yesterday in UTC; a day becomes a "
        "partition once it is over)"
        if last
        else f"from {first} ({START_DATE_ENV}) on, but that day is not over yet in UTC, so "
        "there is no partition yet"
    )
    hint = f" Set {START_DATE_ENV}=YYYY-MM-DD to move the first day." if move_hint else ""
    return f"Partition keys are UTC days written YYYY-MM-DD, {days}.{hint}"


def check_partition_key(key: str) -> str:
    """`key` if it is a daily partition, else BadPartitionError saying why and what is valid."""
    first, last = valid_days()
    try:
        day = date.fromisoformat(key) if _DAY.fullmatch(key) else None
    except ValueError:
        day = None
    if day is None:
        problem = f"Partition key `{key}` is not a calendar day written YYYY-MM-DD."
    elif key < first:
        problem = (
            f"Partition key `{key}` is before the first daily partition, {first}; to load it, "
            f"set {START_DATE_ENV}={key} or earlier where Dagster loads this code location."
        )
    elif last is None or key > last:
        problem = f"Partition key `{key}` is not a complete UTC day yet."
    else:
        return key
    raise BadPartitionError(f"{problem} {_rules(move_hint=day is None or key > first)}")


def check_key_range(start: str, end: str) -> tuple[str, str]:
    """Both ends are daily partitions and `start` is not after `end`."""
    check_partition_key(start)
    check_partition_key(end)
    if start > end:
        raise BadPartitionError(
            f"Partition range {start}...{end} ends before it starts: put the earlier day "
            f"first, e.g. --partition-range {end}{RANGE_SEPARATOR}{start}. {_rules()}"
        )
    return start, end


def check_partition_range(text: str) -> tuple[str, str]:
    """`START...END` (Dagster's `--partition-range` form, three dots) as checked keys."""
    start, sep, end = text.partition(RANGE_SEPARATOR)
    if not sep and ".." in text:
        start, _, end = text.partition("..")
        raise BadPartitionError(
            f"Partition range `{text}` uses two dots; Dagster expects three: "
            f"--partition-range {start}{RANGE_SEPARATOR}{end}. {_rules()}"
        )
    if not sep or not start or not end or RANGE_SEPARATOR in end:
        raise BadPartitionError(
            f"Partition range `{text}` is not START...END (two days joined by three dots, "
            f"e.g. --partition-range 2024-05-01...2024-05-07). {_rules()}"
        )
    return check_key_range(start, end)


def created_window(context: AssetExecutionContext) -> CreatedWindow:
    """The run's partition window (one day, or a range in a single-run backfill) as
    `created[gte]` / `created[lt]`, after checking its keys: a run launched with a day
    outside the partitions (a `dagster/partition` tag, GraphQL) fails here, before any
    request, naming the valid days.
    """
    key_range = context.partition_key_range
    try:
        check_key_range(key_range.start, key_range.end)
    except BadPartitionError as exc:
        raise Failure(description=str(exc), allow_retries=False) from None
    window = context.partition_time_window
    return window_of(key_range.start, int(window.start.timestamp()), int(window.end.timestamp()))


def check_run_partitions(context: AssetExecutionContext) -> None:
    """An unpartitioned step of a run launched for days (the catalog beside a range): the
    days are checked all the same, so a bad day fails the whole run before any request."""
    tags = context.run.tags
    start = tags.get(ASSET_PARTITION_RANGE_START_TAG) or tags.get(PARTITION_NAME_TAG)
    end = tags.get(ASSET_PARTITION_RANGE_END_TAG) or tags.get(PARTITION_NAME_TAG)
    if start is None or end is None:
        return
    try:
        check_key_range(start, end)
    except BadPartitionError as exc:
        raise Failure(description=str(exc), allow_retries=False) from None


def window_of(first_key: str, gte: int, lt: int) -> CreatedWindow:
    """`created[gte]`/`created[lt]` of partitions starting at `first_key`. The first
    partition (STRIPE_START_DATE) also holds everything created before it: a customer from
    years before the start date, whose invoices fall after it, is loaded with the first day
    rather than never."""
    first = daily_partitions.start.strftime("%Y-%m-%d")
    return CreatedWindow(gte=None if first_key == first else gte, lt=lt)


def partition_of_created(created: int) -> str:
    """The daily partition holding an object created at `created` (the first partition for
    anything older)."""
    day = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%d")
    return max(day, daily_partitions.start.strftime("%Y-%m-%d"))
