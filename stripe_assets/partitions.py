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
    return CreatedWindow(gte=int(window.start.timestamp()), lt=int(window.end.timestamp()))
