"""The code location: the daily-partitioned tables and the catalog snapshots, table checks,
resources, the job, the daily schedule, the Stripe events sensor, and the dbt marts with
their automation sensor."""

from dagster import Definitions
from dagster_dlt import DagsterDltResource

from stripe_assets.assets import stripe_catalog, stripe_tables
from stripe_assets.automation import stripe_daily_schedule, stripe_events_sensor, stripe_job
from stripe_assets.checks import stripe_table_checks
from stripe_assets.executors import executor_from_settings
from stripe_assets.marts.assets import stripe_marts
from stripe_assets.marts.automation import stripe_marts_automation
from stripe_assets.resources import StripeResource

defs = Definitions(
    assets=[a for a in (stripe_tables, stripe_catalog, stripe_marts) if a is not None],
    asset_checks=[stripe_table_checks],
    jobs=[stripe_job],
    schedules=[stripe_daily_schedule],
    sensors=[stripe_events_sensor, stripe_marts_automation],
    resources={"dlt": DagsterDltResource(), "stripe": StripeResource()},
    # In-process by default (the load and its checks run one after the other; a process per
    # step costs seconds); STRIPE_EXECUTOR picks multiprocess or a distributed engine.
    executor=executor_from_settings(),
)
