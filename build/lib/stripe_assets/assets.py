"""Every Stripe table as a Dagster asset: translator (keys, lineage, group) + @dlt_assets."""

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
)
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from stripe_assets.events import StripeEvents, deleted_ids, deletion_resources
from stripe_assets.metadata import FRESHNESS_POLICY, run_metadata, spec_metadata, table_row_count
from stripe_assets.pages.memory import collector_tuned_for_pages
from stripe_assets.partitions import created_window, daily_partitions
from stripe_assets.resources import StripeResource
from stripe_assets.settings import (
    ASSET_KEY_PREFIX,
    GROUP_NAME,
    StripeSettings,
    backfill_policy_name,
    pool_name,
)
from stripe_assets.source import CreatedWindow, stripe_source
from stripe_assets.source.client import StripeClient
from stripe_assets.source.errors import StripePermissionError
from stripe_assets.source.progress import RunProgress
from stripe_assets.tables import TABLES_BY_NAME
from stripe_assets.warehouse import build_pipeline, loader_file_format


def asset_key(table: str) -> AssetKey:
    return AssetKey([ASSET_KEY_PREFIX, table])


class StripeTranslator(DagsterDltTranslator):
    """Keys `stripe/<table>`, group `stripe`, lineage parent -> child from tables.py."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        table = TABLES_BY_NAME[data.resource.name]
        deps = [asset_key(table.child.parent)] if table.child else []
        return (
            super()
            .get_asset_spec(data)
            .replace_attributes(
                key=asset_key(table.name),
                deps=deps,
                group_name=GROUP_NAME,
                description=table.description,
                freshness_policy=FRESHNESS_POLICY,
            )
            .merge_attributes(metadata=spec_metadata(table))
        )


DAY = 86_400


def _iso(ts: int | None) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else "open"


def _with_run_metadata(
    result: MaterializeResult,
    window: CreatedWindow,
    progress: RunProgress,
    total_rows: int | None = None,
) -> MaterializeResult:
    table = result.asset_key.path[-1] if result.asset_key else ""
    counters = progress.tables.get(table)
    extra: dict[str, Any] = {
        "window_start": MetadataValue.text(_iso(window.gte)),
        "window_end": MetadataValue.text(_iso(window.lt)),
        "rows_extracted": MetadataValue.int(counters.rows if counters else 0),
        "requests": MetadataValue.int(counters.requests if counters else 0),
        "retries": MetadataValue.int(counters.retries if counters else 0),
    }
    metadata = {**(result.metadata or {}), **extra}
    if table in TABLES_BY_NAME:
        one_day = window.gte is not None and window.lt is not None and window.lt - window.gte <= DAY
        metadata = run_metadata(TABLES_BY_NAME[table], metadata, total_rows, one_day)
    return MaterializeResult(asset_key=result.asset_key, metadata=metadata)


def _remove_deleted(
    context: AssetExecutionContext,
    pipeline: Any,
    settings: StripeSettings,
    window: CreatedWindow,
    progress: RunProgress,
) -> None:
    """Stripe's lists drop deleted customers and invoices: read their `*.deleted` events (30
    days retained) and hard-delete the ones created in this window (and their children).
    """
    selected = [k.path[-1] for k in context.selected_asset_keys]
    try:
        deleted = deleted_ids(StripeEvents(StripeClient(settings, progress)), window, selected)
    except StripePermissionError as exc:  # a restricted key without Events read permission
        context.log.warning(
            f"Could not read deletion events, deletions not applied: {exc}. Grant the key "
            "read access to Events to remove deleted customers and invoices."
        )
        return
    resources = deletion_resources(deleted, selected)
    if resources:
        pipeline.run(resources, loader_file_format=loader_file_format(pipeline))
        context.log.info(f"Removed objects deleted in Stripe: {deleted}")


def backfill_policy() -> BackfillPolicy:
    """STRIPE_BACKFILL_POLICY: one run for a whole range (default) or one run per partition."""
    if backfill_policy_name() == "multi_run":
        return BackfillPolicy.multi_run(1)
    return BackfillPolicy.single_run()


@dlt_assets(
    dlt_source=stripe_source(),
    dlt_pipeline=build_pipeline(),
    name="stripe",
    dagster_dlt_translator=StripeTranslator(),
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy(),
    pool=pool_name(),
)
def stripe_tables(
    context: AssetExecutionContext, dlt: DagsterDltResource, stripe: StripeResource
) -> Iterator[MaterializeResult]:
    """Load the selected Stripe tables for the run's `created` window."""
    window = created_window(context)
    settings = stripe.settings()  # at run time: a missing key fails here, clearly
    context.log.info(
        f"Loading {sorted(k.path[-1] for k in context.selected_asset_keys)} "
        f"for created in [{_iso(window.gte)}, {_iso(window.lt)}) from {settings.api_base}"
    )
    progress = RunProgress(log=context.log.info)
    source = stripe_source(window, settings=settings, progress=progress)
    with tempfile.TemporaryDirectory(prefix="stripe-assets-dlt-") as pipelines_dir:
        # A working dir per run: concurrent runs never share dlt state, and a killed run
        # leaves nothing the next one would pick up (merge on the primary key makes the
        # rerun exact).
        pipeline = build_pipeline(pipelines_dir)
        with collector_tuned_for_pages():
            results = list(
                dlt.run(
                    context=context,
                    dlt_source=source,
                    dlt_pipeline=pipeline,
                    loader_file_format=loader_file_format(pipeline),
                )
            )
        _remove_deleted(context, pipeline, settings, window, progress)
        for result in results:
            table = result.asset_key.path[-1] if result.asset_key else ""
            yield _with_run_metadata(result, window, progress, table_row_count(pipeline, table))
    context.log.info(progress.summary())


__all__ = ["StripeTranslator", "asset_key", "stripe_tables"]
