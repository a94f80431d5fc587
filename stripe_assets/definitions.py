"""The code location: assets, resources (and, as they come, checks, schedules, sensors)."""

from dagster import Definitions
from dagster_dlt import DagsterDltResource

from stripe_assets.assets import stripe_tables
from stripe_assets.resources import StripeResource

defs = Definitions(
    assets=[stripe_tables],
    resources={"dlt": DagsterDltResource(), "stripe": StripeResource()},
)
