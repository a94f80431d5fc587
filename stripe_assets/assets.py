"""Every Stripe table as a Dagster asset: translator (keys, lineage, group) + @dlt_assets."""

import atexit
import gc
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    TableSchema,
    multi_asset,
)
from dagster._core.definitions.metadata.metadata_set import TableMetadataSet
from dagster._core.execution.context.metadata_logging import (
    AssetMetadataHandle,
    OutputMetadataAccumulator,
)
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, build_dlt_asset_specs
from dagster_dlt.translator import DltResourceTranslatorData

from stripe_assets.events import (
    StripeEvents,
    deleted_ids,
    deletion_resources,
)
from stripe_assets.metadata import (
    DAY,
    FRESHNESS_POLICY,
    described,
    iso,
    partition_metadata,
    partition_rows,
    rows_per_day,
    run_totals,
    spec_metadata,
    table_metadata,
    table_row_count,
)
from stripe_assets.pages.memory import collector_tuned_for_pages
from stripe_assets.partitions import check_run_partitions, created_window, daily_partitions
from stripe_assets.resources import StripeResource
from stripe_assets.selection import EXCLUDE_TABLES_ENV, partitioned_tables, snapshot_tables
from stripe_assets.settings import (
    ASSET_KEY_PREFIX,
    GROUP_NAME,
    WAREHOUSE_STEP_TAG,
    StripeSettings,
    backfill_partitions_per_run,
    pool_name,
)
from stripe_assets.source import CreatedWindow, stripe_source
from stripe_assets.source.client import StripeClient
from stripe_assets.source.errors import StripePermissionError
from stripe_assets.source.progress import RunProgress
from stripe_assets.tables import TABLES_BY_NAME
from stripe_assets.warehouse import build_pipeline, loader_file_format

# A process that ran a load ends with the interpreter's final garbage collection over every
# object Dagster, dlt and the run created: ~1.5 s after a year's first load, ~1 s after only
# loading this code location. Nothing needs collecting when the process ends (resources are
# closed by `with` blocks, not by the collector), so the objects are frozen out of it first.
atexit.register(gc.freeze)


READABLE = "readable"
"""The check each load reports per table: whether Stripe let the key list it."""


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
                freshness_policy=None if table.snapshot else FRESHNESS_POLICY,
                # a table Stripe refused to list is reported, not materialized as empty
                skippable=True,
            )
            .merge_attributes(metadata=spec_metadata(table))
        )


def _day_window(key: str) -> tuple[int, int]:
    window = daily_partitions.time_window_for_partition_key(key)
    return int(window.start.timestamp()), int(window.end.timestamp())


LOADED_PREFIX = "Loaded; writing Dagster's materializations. dlt phases: "


def dlt_phases(pipeline: Any) -> str:
    """`extract 4.1 s, normalize 0.3 s, load 0.7 s` from the pipeline's last trace."""
    steps = pipeline.last_trace.steps if pipeline.last_trace else []
    return ", ".join(
        f"{step.step} {(step.finished_at - step.started_at).total_seconds():.1f} s"
        for step in steps
        if step.step in ("extract", "normalize", "load") and step.finished_at
    )


def _log_load_jobs(context: AssetExecutionContext, results: list[MaterializeResult]) -> None:
    """dagster-dlt's load-job list (temporary files, job ids, sizes) tells a user nothing
    about a day: once per run to the debug log instead of into every materialization."""
    jobs = [job for r in results for job in (r.metadata or {}).get("jobs", None) or []]
    if jobs:
        context.log.debug(f"dlt load jobs of this run: {jobs}")


def add_partition_metadata(
    context: AssetExecutionContext,
    asset_key: AssetKey,
    by_partition: Mapping[str, Mapping[str, Any]],
) -> None:
    """`context.add_asset_metadata(..., partition_key=day)` for many days at once. Dagster
    1.13 copies its whole metadata accumulator on every call, which is quadratic in (tables x
    days): 0.8 s for 8 tables x 1 year, 250 s for 41 tables x 3 years. So where the step
    context has Dagster's accumulator, it gets all of an asset's days in one copy; otherwise
    (another Dagster) this falls back to the public call per day."""
    step = getattr(context, "_step_execution_context", None)
    accumulator = getattr(step, "_metadata_accumulator", None)
    if not isinstance(accumulator, OutputMetadataAccumulator):
        for day, metadata in by_partition.items():
            context.add_asset_metadata(metadata, asset_key=asset_key, partition_key=day)
        return
    entries = dict(accumulator.per_output_metadata)
    for day, metadata in by_partition.items():
        handle = AssetMetadataHandle(asset_key=asset_key, partition_key=day)
        entries[handle] = {**entries.get(handle, {}), **metadata}
    step._metadata_accumulator = OutputMetadataAccumulator(per_output_metadata=entries)


def _materializations(
    context: AssetExecutionContext,
    pipeline: Any,
    results: list[MaterializeResult],
    progress: RunProgress,
) -> Iterator[MaterializeResult]:
    """Lean per-partition materializations. Each partition's rows come from one group-by per
    table after the load, so a range run plots every day's own count (Dagster writes one
    event per partition, copying the result's metadata to each). The newest partition also
    carries the loaded column schema, which the UI shows as the table's latest."""
    days = context.partition_keys
    windows = {day: _day_window(day) for day in days}
    first = daily_partitions.get_first_partition_key()
    if days[0] == first:  # the first partition also holds everything created before it
        windows[first] = (0, windows[first][1])
    gte, lt = windows[days[0]][0], windows[days[-1]][1]
    with pipeline.sql_client() as client:
        for result in results:
            table = TABLES_BY_NAME[result.asset_key.path[-1]]
            if table.name in _refused(progress, [table.name]):
                continue  # not materialized: its `readable` check says why
            counters = progress.tables.get(table.name)
            requests, retries = (counters.requests, counters.retries) if counters else (0, 0)
            try:
                per_day: dict[int, int] | None = rows_per_day(client, table, gte, lt)
            except Exception as exc:  # a destination without extract(epoch)/to_timestamp
                context.log.warning(f"{table.name}: no per-day row counts ({exc})")
                per_day = None
                if len(days) == 1:  # one day: dlt's count of the rows it loaded
                    loaded_rows = (result.metadata or {}).get("rows_loaded")
                    per_day = {windows[days[0]][0] // DAY: int(getattr(loaded_rows, "value", 0))}
            by_day = {
                day: partition_metadata(
                    windows[day],
                    partition_rows(per_day, *windows[day]) if per_day is not None else None,
                    requests,
                    retries,
                    days,
                )
                for day in days
            }
            newest = by_day[days[-1]]
            if len(days) > 1:
                newest.update(run_totals(requests, retries, days))
            schema = (result.metadata or {}).get("dagster/column_schema")
            schema = schema.value if isinstance(schema, MetadataValue) else schema
            loaded = described(schema if isinstance(schema, TableSchema) else None, table)
            if loaded is not None:
                newest.update(TableMetadataSet(column_schema=loaded))
            add_partition_metadata(context, result.asset_key, by_day)
            yield MaterializeResult(
                asset_key=result.asset_key,
                metadata=table_metadata(table, table_row_count(client, table.name)),
            )


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
    """STRIPE_BACKFILL_POLICY: one run for a whole range (default), one run per partition
    (`multi_run`) or runs of at most N partitions (`multi_run:N`)."""
    per_run = backfill_partitions_per_run()
    if per_run is None:
        return BackfillPolicy.single_run()
    return BackfillPolicy.multi_run(per_run)


def _refused(progress: RunProgress, tables: list[str]) -> dict[str, str]:
    """Tables Stripe refused to list (a restricted key's permission, Connect on an account
    that is no platform), a child of a refused parent with it: Stripe's reason per table."""
    refused = dict(progress.unavailable_tables)
    for name in tables:
        link = TABLES_BY_NAME[name].child
        if link is not None and link.parent in refused and name not in refused:
            refused[name] = f"Its parent table {link.parent} is unavailable: {refused[link.parent]}"
    return refused


def _readable(
    context: AssetExecutionContext, tables: list[str], refused: Mapping[str, str]
) -> Iterator[AssetCheckResult]:
    """The `readable` check of each table: refused tables are reported here (and not
    materialized, so they never pose as empty), the others load as usual. Dagster skips the
    checks of an asset that was not materialized, so the load reports them itself."""
    wanted = {key.asset_key.path[-1] for key in context.selected_asset_check_keys}
    for name in tables:
        if name not in wanted:
            continue
        reason = refused.get(name)
        if reason is not None:
            context.log.warning(
                f"{name} not loaded: {reason} Exclude it with {EXCLUDE_TABLES_ENV} if the key "
                "is not meant to read it."
            )
        yield AssetCheckResult(
            asset_key=asset_key(name),
            check_name=READABLE,
            passed=reason is None,
            severity=AssetCheckSeverity.WARN,
            description=f"Not loaded: Stripe refused to list {name}. {reason}"
            if reason
            else f"The key could list {name}.",
        )


def stripe_multi_asset(
    name: str, tables: list[str], partitions_def: Any = None, backfill_policy: Any = None
) -> Callable[[Callable[..., Any]], AssetsDefinition]:
    """`@dlt_assets` (dagster-dlt's specs, translator and run) plus a `readable` check per
    table: `dlt_assets` takes no check specs, and the check must come from the load that met
    Stripe's refusal (see `_readable`)."""
    specs = build_dlt_asset_specs(
        dlt_source=stripe_source(tables=tables),
        dlt_pipeline=build_pipeline(),
        dagster_dlt_translator=StripeTranslator(),
    )
    checks = [
        AssetCheckSpec(
            READABLE,
            asset=spec.key,
            description="Stripe let the key list it (a restricted key needs the table's "
            "permission; Connect lists need a platform).",
        )
        for spec in specs
    ]
    return multi_asset(
        name=name,
        specs=specs,
        check_specs=checks,
        can_subset=True,
        partitions_def=partitions_def,
        backfill_policy=backfill_policy,
        pool=pool_name(),
        op_tags={WAREHOUSE_STEP_TAG: "write"},
    )


def _retention_warnings(context: AssetExecutionContext, window: CreatedWindow) -> None:
    """A table Stripe keeps for a while only (`events`: 30 days): an older partition loads
    what is left, and the log says so."""
    for key in context.selected_asset_keys:
        table = TABLES_BY_NAME.get(key.path[-1])
        if table is None or table.kept_seconds is None:
            continue
        kept_since = int(time.time()) - table.kept_seconds
        if window.gte is None or window.gte < kept_since:
            context.log.warning(
                f"{table.name}: Stripe keeps {table.name} for {table.kept_seconds // DAY} days; "
                f"this window starts {iso(window.gte)}, so only {table.name} since about "
                f"{iso(kept_since)} can still be loaded."
            )


def _load(
    context: AssetExecutionContext,
    dlt: DagsterDltResource,
    stripe: StripeResource,
    window: CreatedWindow,
    tables: list[str],
) -> tuple[Any, list[MaterializeResult], RunProgress]:
    """One dlt run of `tables` (those of the run's selection) over `window`."""
    settings = stripe.settings()  # at run time: a missing key fails here, clearly
    selected = sorted(k.path[-1] for k in context.selected_asset_keys)
    context.log.info(
        f"Loading {selected} for created in [{iso(window.gte)}, {iso(window.lt)}) "
        f"from {settings.api_base}"
    )
    progress = RunProgress(log=context.log.info)
    source = stripe_source(window, settings=settings, progress=progress, tables=tables)
    # A working dir per run: concurrent runs never share dlt state, and a killed run leaves
    # nothing the next one would pick up (merge on the primary key makes the rerun exact).
    pipelines_dir = tempfile.mkdtemp(prefix="stripe-assets-dlt-")
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
    phases = dlt_phases(pipeline)
    if any(not TABLES_BY_NAME[n].snapshot for n in selected):
        _remove_deleted(context, pipeline, settings, window, progress)
    context.log.info(progress.summary())
    context.log.info(f"{LOADED_PREFIX}{phases}")
    _log_load_jobs(context, results)
    return pipeline, results, progress


@stripe_multi_asset(
    "stripe", partitioned_tables(), daily_partitions, backfill_policy=backfill_policy()
)
def stripe_tables(
    context: AssetExecutionContext, dlt: DagsterDltResource, stripe: StripeResource
) -> Iterator[MaterializeResult]:
    """Load the selected Stripe tables for the run's `created` window."""
    window = created_window(context)
    _retention_warnings(context, window)
    pipeline, results, progress = _load(context, dlt, stripe, window, partitioned_tables())
    try:
        yield from _materializations(context, pipeline, results, progress)
        yield from _readable(
            context, partitioned_tables(), _refused(progress, partitioned_tables())
        )
    finally:
        shutil.rmtree(pipeline.pipelines_dir, ignore_errors=True)


def catalog_assets() -> AssetsDefinition | None:
    """The catalog tables (STRIPE_TABLES may select none) as one unpartitioned asset."""
    tables = snapshot_tables()
    if not tables:
        return None

    # single_run: a range run of `key:"stripe/*"` (the CLI's --partition-range, a UI
    # backfill) refreshes the catalog once beside the days
    @stripe_multi_asset("stripe_catalog", tables, backfill_policy=BackfillPolicy.single_run())
    def stripe_catalog(
        context: AssetExecutionContext, dlt: DagsterDltResource, stripe: StripeResource
    ) -> Iterator[MaterializeResult]:
        """Read the catalog tables whole (products, prices, plans, coupons, ...) and replace
        them: what Stripe no longer lists leaves the table."""
        check_run_partitions(context)
        pipeline, results, progress = _load(context, dlt, stripe, CreatedWindow(), tables)
        try:
            with pipeline.sql_client() as client:
                for result in results:
                    table = TABLES_BY_NAME[result.asset_key.path[-1]]
                    if table.name in _refused(progress, [table.name]):
                        continue
                    counters = progress.tables.get(table.name)
                    yield MaterializeResult(
                        asset_key=result.asset_key,
                        metadata={
                            **table_metadata(table, table_row_count(client, table.name)),
                            "requests": MetadataValue.int(counters.requests if counters else 0),
                            "retries": MetadataValue.int(counters.retries if counters else 0),
                        },
                    )
            yield from _readable(context, tables, _refused(progress, tables))
        finally:
            shutil.rmtree(pipeline.pipelines_dir, ignore_errors=True)

    return stripe_catalog


stripe_catalog = catalog_assets()


__all__ = ["StripeTranslator", "asset_key", "stripe_catalog", "stripe_tables"]
