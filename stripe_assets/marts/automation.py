"""When the marts rebuild: declarative automation, after the loads they read.

A model is requested when one of its upstream assets (a `stripe/<table>` load or another
mart) was updated since the model was last requested, no upstream asset is in progress (a
load run, or a backfill of any number of runs) and the model is not already being built. So
one dbt build follows a whole backfill, a schedule run or a sensor's reloads, only the
models downstream of what changed are built, and two builds never overlap. Unlike eager(),
missing upstream partitions do not block it (the loads' daily partitions are never all
there), and a never-built mart is not requested before any load.

Why not the loads' job: a job backfill of N partitions would build the marts N times, and
runs that reload single tables would either skip the marts or build all of them.

The sensor `stripe_marts_automation` evaluates this every 30 s
(`STRIPE_MARTS_AUTOMATION_INTERVAL`). It is off by default like the
project's other automation (start it in the UI or `dagster sensor start
stripe_marts_automation`), so nothing launches runs unasked. The marts run in the warehouse
pool, so on one DuckDB file they wait for a running load and a load waits for them.
"""

from __future__ import annotations

from dagster import (
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
)

from stripe_assets.settings import marts_automation_interval

MARTS_AUTOMATION_CONDITION = (
    AutomationCondition.any_deps_updated().since_last_handled()
    & ~AutomationCondition.any_deps_in_progress()
    & ~AutomationCondition.in_progress()
).with_label("after its loads")

stripe_marts_automation = AutomationConditionSensorDefinition(
    name="stripe_marts_automation",
    target=AssetSelection.groups("stripe_marts"),
    default_status=DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=marts_automation_interval(),
    description="Rebuild the stripe_marts models after the Stripe loads they read (declarative "
    "automation; one build per finished batch of loads, in the warehouse pool).",
)
