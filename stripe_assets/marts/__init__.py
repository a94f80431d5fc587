"""Analytics marts: dbt models over the loaded Stripe tables, as Dagster assets.

Layout: the dbt project lives in `dbt_project/` inside this package (shipped as package data,
so an installed stripe-assets carries its models); the Python modules here are the Dagster
side of it:

- `project.py`: the `DbtProject` and its manifest, parsed on first load (and again whenever
  the project's files or the adapter change), never committed;
- `profile.py`: the dbt profile, derived at run time from the load's own settings
  (`STRIPE_DESTINATION`, dlt's destination credentials): no profiles.yml to maintain;
- `cli.py`: the dbt CLI resource used for both;
- `assets.py`: `@dbt_assets` (group `stripe_marts`, keys `stripe_marts/<model>`, sources
  mapped onto the `stripe/<table>` assets), run in the warehouse pool;
- `automation.py`: the declarative automation that rebuilds the marts after their loads;
- `metrics.py`: this month's MRR figures, for the materialization metadata and `make demo`;
- `demo.py`: the marts step of `make demo`.
"""
