"""What the Dagster UI shows for each table. On the definition: the described column schema,
the table's fully qualified name and where to find it. Per partition: what a user reads or
plots for that day (its rows, its `created` window, the table's row count, the run's requests
and retries); the newest partition of a run also carries the loaded column schema.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import dlt
from dagster import (
    FreshnessPolicy,
    MetadataValue,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
)
from dagster._core.definitions.metadata.metadata_set import TableMetadataSet
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from stripe_assets.settings import DATASET_NAME, destination_name, duckdb_path
from stripe_assets.source.hints import merge_hints
from stripe_assets.tables import TABLES_BY_NAME, StripeTable

# The latest daily partition (yesterday, UTC) is due by 03:00 UTC: the daily schedule
# requests it at 00:15, so each table should materialize between 00:00 and 03:00 UTC.
FRESHNESS_POLICY = FreshnessPolicy.cron(
    deadline_cron="0 3 * * *", lower_bound_delta=timedelta(hours=3), timezone="UTC"
)

DAY = 86_400
UNKNOWN_TYPE = "?"  # dagster-dbt's word for a column whose type the data decides
PARTITION_ROWS = "dagster/partition_row_count"


# --- the table's name, as dagster-dbt writes it -------------------------------------------


def duckdb_catalog(path: str) -> str:
    """The catalog DuckDB (and dbt-duckdb) names a database file after: the first non-empty
    dot-separated part of the file name (`stripe_warehouse.duckdb` -> `stripe_warehouse`)."""
    if path in ("", ":memory:"):
        return "memory"
    parsed = urlparse(path)
    base = os.path.basename(parsed.path if parsed.scheme in ("md", "motherduck") else path)
    return base.lstrip(".").split(".")[0] or "memory"


def _configured(key: str) -> Any:
    try:
        return dlt.secrets.get(key)
    except Exception:  # a malformed toml: the run itself reports it clearly
        return None


def warehouse_database(destination: str | None = None) -> str | None:
    """The database part of `database.schema.table` for the configured destination, read
    from configuration only (never a connection): DuckDB's catalog for its file, else the
    `database` (or BigQuery `project_id`) of dlt's credentials for the destination."""
    name = destination or destination_name()
    if name == "duckdb":
        return duckdb_catalog(duckdb_path())
    credentials = _configured(f"destination.{name}.credentials")
    if isinstance(credentials, str):
        if name == "motherduck":
            return duckdb_catalog(credentials)
        return urlparse(credentials).path.strip("/").split("/")[0] or None
    if isinstance(credentials, Mapping):
        found = credentials.get("database") or credentials.get("project_id")
        return str(found) if found else None
    for field in ("database", "project_id"):
        found = _configured(f"destination.{name}.credentials.{field}")
        if found:
            return str(found)
    return None


def qualified_table_name(table: str) -> str:
    """`database.schema.table`, the name dagster-dbt gives the same relation (for DuckDB the
    catalog dbt-duckdb uses for the file, for Postgres the database name), so Dagster matches
    the table across tools. `schema.table` when the database is not configured here."""
    return ".".join(part for part in (warehouse_database(), DATASET_NAME, table) if part)


# --- the definition: columns, name, location ---------------------------------------------


def declared_schema(table: StripeTable) -> TableSchema:
    """The columns we know before any load, typed as dlt types them in the warehouse: keys
    and parent ids `text`, hinted columns by their hint. A described column without a hint
    takes its type from the data (`?` until the first load; materializations carry it)."""
    hints = merge_hints(table)["columns"]
    names = [*dict.fromkeys((*hints, *table.column_descriptions))]
    return TableSchema(
        columns=[
            TableColumn(
                name=name,
                type=str(hints.get(name, {}).get("data_type") or UNKNOWN_TYPE),
                description=table.column_descriptions.get(name),
                constraints=TableColumnConstraints(nullable=name not in table.primary_key),
            )
            for name in names
        ]
    )


def location_metadata(table: str) -> dict[str, Any]:
    """A pointer to the table: the DuckDB file to open, or the destination, and a query."""
    name = destination_name()
    where: dict[str, Any] = {
        "query": MetadataValue.md(f"```sql\nselect * from {DATASET_NAME}.{table} limit 100;\n```")
    }
    if name == "duckdb":
        where["warehouse"] = MetadataValue.path(os.path.abspath(duckdb_path()))
    else:
        where["warehouse"] = MetadataValue.text(name)
    return where


def spec_metadata(table: StripeTable) -> dict[str, Any]:
    """Definition metadata: the declared schema, the qualified name and where to look."""
    return {
        **TableMetadataSet(
            column_schema=declared_schema(table),
            table_name=qualified_table_name(table.name),
        ),
        **location_metadata(table.name),
    }


# --- after a load: counts from the warehouse ----------------------------------------------


def described(schema: TableSchema | None, table: StripeTable) -> TableSchema | None:
    """The loaded schema (from dlt) with our column descriptions added."""
    if schema is None:
        return None
    return TableSchema(
        columns=[
            TableColumn(
                name=c.name,
                type=c.type,
                description=c.description or table.column_descriptions.get(c.name),
                constraints=c.constraints,
                tags=c.tags,
            )
            for c in schema.columns
        ],
        constraints=schema.constraints,
    )


def table_row_count(client: Any, table: str) -> int:
    """Rows in the whole warehouse table (0 while no row was ever loaded: no table yet)."""
    try:
        rows = client.execute_sql(f"select count(*) from {client.make_qualified_table_name(table)}")
    except DatabaseUndefinedRelation:
        return 0
    return int(rows[0][0])


def rows_per_day_sql(table: StripeTable, qualify: Any, gte: int, lt: int) -> str:
    """One group-by: rows per UTC day (day number since the epoch) of the table's partition
    column, `created` (`date` for invoice items) of the row, or of its top-level parent for a
    child (children follow their parent's `created`)."""
    joins, alias, current = [], "r0", table
    while current.child is not None:
        parent = TABLES_BY_NAME[current.child.parent]
        step, column = f"r{len(joins) + 1}", current.child.parent_column
        joins.append(f"join {qualify(parent.name)} {step} on {step}.id = {alias}.{column}")
        alias, current = step, parent
    created = f"{alias}.{current.created_field}"
    return (
        f"select cast(floor(extract(epoch from {created}) / {DAY}) as bigint), count(*) "
        f"from {qualify(table.name)} r0 {' '.join(joins)} "
        f"where {created} >= to_timestamp({gte}) and {created} < to_timestamp({lt}) group by 1"
    )


def rows_per_day(client: Any, table: StripeTable, gte: int, lt: int) -> dict[int, int]:
    """Rows per UTC day number in [gte, lt) now in the warehouse ({} for a table never
    loaded). Raises what the destination raises for SQL it lacks (extract(epoch),
    to_timestamp)."""
    sql = rows_per_day_sql(table, client.make_qualified_table_name, gte, lt)
    try:
        return {int(day): int(n) for day, n in client.execute_sql(sql)}
    except DatabaseUndefinedRelation:
        return {}


# --- per partition ------------------------------------------------------------------------


def iso(ts: int | None) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else "open"


def partition_rows(per_day: Mapping[int, int], gte: int, lt: int) -> int:
    """A partition's rows: the sum of its days (one day for daily partitions)."""
    return sum(per_day.get(day, 0) for day in range(gte // DAY, -(-lt // DAY)))


def partition_metadata(
    window: tuple[int, int], rows: int | None, requests: int, retries: int, run_days: Sequence[str]
) -> dict[str, Any]:
    """One partition's materialization: its rows (plotted per partition), its window, and for
    a one-day run its requests and retries (a range run's totals go on its newest partition
    only, see `run_totals`: per-day requests are not known)."""
    metadata: dict[str, Any] = {
        "window_start": MetadataValue.text(iso(window[0])),
        "window_end": MetadataValue.text(iso(window[1])),
    }
    if rows is not None:
        metadata[PARTITION_ROWS] = MetadataValue.int(rows)
    if len(run_days) == 1:
        metadata["requests"] = MetadataValue.int(requests)
        metadata["retries"] = MetadataValue.int(retries)
    return metadata


def run_totals(requests: int, retries: int, run_days: Sequence[str]) -> dict[str, Any]:
    """What a range run did for the table, once: on its newest partition."""
    return {
        "run": MetadataValue.text(
            f"one run of {len(run_days)} partitions ({run_days[0]}...{run_days[-1]}): "
            f"{requests} requests, {retries} retries for this table"
        )
    }


def table_metadata(table: StripeTable, total_rows: int) -> dict[str, Any]:
    """Shared by every partition of a run: the table's row count and qualified name."""
    return dict(TableMetadataSet(row_count=total_rows, table_name=qualified_table_name(table.name)))
