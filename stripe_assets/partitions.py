"""Daily UTC partitions and their mapping to Stripe `created` windows."""

from __future__ import annotations

from dagster import AssetExecutionContext, DailyPartitionsDefinition

from stripe_assets.settings import start_date
from stripe_assets.source import CreatedWindow

daily_partitions = DailyPartitionsDefinition(start_date=start_date(), timezone="UTC")


def created_window(context: AssetExecutionContext) -> CreatedWindow:
    """The run's partition window (one day, or a range in a single-run backfill) as
    `created[gte]` / `created[lt]`. Reads the time window, never the partition key.
    """
    window = context.partition_time_window
    if window.start >= window.end:  # Dagster accepts a reversed `--partition-range`
        first, last = context.partition_key_range.start, context.partition_key_range.end
        raise ValueError(
            f"Partition range {first}...{last} ends before it starts: put the earlier day "
            f"first, e.g. --partition-range {last}...{first}"
        )
    return CreatedWindow(gte=int(window.start.timestamp()), lt=int(window.end.timestamp()))
