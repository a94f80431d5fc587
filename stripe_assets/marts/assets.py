"""Every dbt model as a Dagster asset: keys `stripe_marts/<model>` in group `stripe_marts`,
downstream of the `stripe/<table>` assets its dbt sources name; dbt tests become asset checks.

A marts run claims the warehouse pool (`STRIPE_POOL`), like every load, so it never writes the
DuckDB file while a load does. The dbt profile is made when the run starts from the load's
settings (`profile.py`), in a temporary directory removed afterwards.
"""

import json
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    AutomationCondition,
    Config,
    Failure,
    Output,
)
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets
from pydantic import Field

from stripe_assets.assets import asset_key
from stripe_assets.marts.automation import MARTS_AUTOMATION_CONDITION
from stripe_assets.marts.cli import StripeDbtCli, dbt_executable
from stripe_assets.marts.metrics import CURRENT_MONTH_SQL, current_month_metadata, query_warehouse
from stripe_assets.marts.profile import describe, run_output, run_profiles_dir
from stripe_assets.marts.project import keep_partial_parse, marts_project
from stripe_assets.selection import selected_names
from stripe_assets.settings import ASSET_KEY_PREFIX, WAREHOUSE_STEP_TAG, pool_name

MARTS_GROUP = "stripe_marts"
MARTS_KEY_PREFIX = "stripe_marts"
MRR_SUMMARY = AssetKey([MARTS_KEY_PREFIX, "mrr_summary"])


def marts_key(model: str) -> AssetKey:
    return AssetKey([MARTS_KEY_PREFIX, model])


class StripeMartsTranslator(DagsterDbtTranslator):
    """dbt sources -> the loads' own assets (`stripe/<table>`), models -> `stripe_marts/<model>`
    in group `stripe_marts`, rebuilt by declarative automation after their loads.

    A source whose table this code location does not load (not in the registry, or left out
    by STRIPE_TABLES) gives no dependency: it
    would appear as an external `stripe/<table>` stub, which `key:"stripe/*"` selects (and a
    partition range then refuses). Its model still reads it (empty until loaded), and the
    dependency appears with the table's asset.
    """

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        chosen = set(selected_names())
        loaded = [
            dep
            for dep in spec.deps
            if dep.asset_key.path[0] != ASSET_KEY_PREFIX or dep.asset_key.path[-1] in chosen
        ]
        return spec.replace_attributes(deps=loaded) if len(loaded) < len(spec.deps) else spec

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return asset_key(dbt_resource_props["name"])
        return marts_key(dbt_resource_props["name"])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return MARTS_GROUP if dbt_resource_props["resource_type"] != "source" else None

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> AutomationCondition | None:
        if dbt_resource_props["resource_type"] == "source":
            return None
        return MARTS_AUTOMATION_CONDITION


class MartsConfig(Config):
    """Run configuration of a marts build (all optional)."""

    as_of: str | None = Field(
        default=None,
        description="The UTC day (YYYY-MM-DD) that is 'today' for current-month figures: MRR "
        "from subscription items, month-to-date sums. Default: the day of the run.",
    )


def _dbt_args(config: MartsConfig) -> list[str]:
    args = ["build"]
    if config.as_of:
        args += ["--vars", json.dumps({"as_of": config.as_of})]
    return args


def _is_mrr_summary(context: AssetExecutionContext, event: Any) -> bool:
    if isinstance(event, Output):
        return context.asset_key_for_output(event.output_name) == MRR_SUMMARY
    return isinstance(event, AssetCheckResult) and event.asset_key == MRR_SUMMARY


PROJECT = marts_project()


@dbt_assets(
    manifest=PROJECT.manifest_path,
    project=PROJECT,
    name="stripe_marts",
    dagster_dbt_translator=StripeMartsTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
    ),
    pool=pool_name(),
    op_tags={WAREHOUSE_STEP_TAG: "write"},
)
def stripe_marts(context: AssetExecutionContext, config: MartsConfig) -> Iterator[Any]:
    """`dbt build` of the selected models and their tests in the load's warehouse."""
    output = run_output()  # at run time: a destination the marts cannot use fails here
    context.log.info(f"Building the marts in {describe(output)}")
    with run_profiles_dir(output) as profiles_dir:
        cli = StripeDbtCli(
            project_dir=PROJECT, profiles_dir=str(profiles_dir), dbt_executable=dbt_executable()
        )
        invocation = cli.cli(
            _dbt_args(config), context=context, raise_on_error=False,
            target_path=profiles_dir / "target",
        )  # fmt: skip
        # mrr_summary's materialization carries this month's figures, read once dbt has
        # finished (DuckDB allows one writing process); its checks follow it.
        held = []
        for event in invocation.stream():
            if _is_mrr_summary(context, event):
                held.append(event)
            else:
                yield event
        error = invocation.get_error()
        if error is None and not config.as_of:
            keep_partial_parse(PROJECT, profiles_dir / "target")
    outputs = [e for e in held if isinstance(e, Output)]
    if outputs:
        metadata = current_month_metadata(query_warehouse(CURRENT_MONTH_SQL))
        yield outputs[0].with_metadata({**outputs[0].metadata, **metadata})
    yield from (e for e in held if not isinstance(e, Output))
    if error is not None:
        raise Failure(description=str(error)) from error
