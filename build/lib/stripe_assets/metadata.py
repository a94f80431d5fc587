"""What the Dagster UI shows for each table: described column schema, row counts (plotted
per partition), where the table lives, and the freshness policy of the latest partition.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

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
from stripe_assets.tables import StripeTable

# The latest daily partition (yesterday, UTC) is due by 03:00 UTC: the daily schedule
# requests it at 00:15, so each table should materialize between 00:00 and 03:00 UTC.
FRESHNESS_POLICY = FreshnessPolicy.cron(
    deadline_cron="0 3 * * *", lower_bound_delta=timedelta(hours=3), timezone="UTC"
)

_HINT_TYPES = {"timestamp": "timestamp", "bigint": "bigint", "text": "text", "bool": "bool"}


def declared_schema(table: StripeTable) -> TableSchema:
    """The columns we know before any load: keys, typed hints and described columns."""
    names = [*table.primary_key]
    names += [c for c in (*table.columns, *table.column_descriptions) if c not in names]
    columns = []
    for name in names:
        hint = table.columns.get(name, {})
        columns.append(
            TableColumn(
                name=name,
                type=_HINT_TYPES.get(str(hint.get("data_type")), "json/text"),
                description=table.column_descriptions.get(name),
                constraints=TableColumnConstraints(nullable=name not in table.primary_key),
            )
        )
    return TableSchema(columns=columns)


def spec_metadata(table: StripeTable) -> dict[str, Any]:
    """Definition-time metadata: the declared schema and the table's name in the warehouse."""
    return dict(
        TableMetadataSet(
            column_schema=declared_schema(table),
            table_name=f"{DATASET_NAME}.{table.name}",
        )
    )


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


def table_row_count(pipeline: dlt.Pipeline, table: str) -> int:
    """Rows in the whole warehouse table (0 while no row was ever loaded: no table yet)."""
    with pipeline.sql_client() as client:
        try:
            rows = client.execute_sql(
                f"select count(*) from {client.make_qualified_table_name(table)}"
            )
        except DatabaseUndefinedRelation:
            return 0
    return int(rows[0][0])


def location_metadata(table: str) -> dict[str, Any]:
    """A pointer to the table: the DuckDB file to open, or the destination and table name."""
    name = destination_name()
    where: dict[str, Any] = {
        "query": MetadataValue.md(f"```sql\nselect * from {DATASET_NAME}.{table} limit 100;\n```")
    }
    if name == "duckdb":
        where["warehouse"] = MetadataValue.path(os.path.abspath(duckdb_path()))
    else:
        where["warehouse"] = MetadataValue.text(name)
    return where


def run_metadata(
    table: StripeTable, metadata: dict[str, Any], total_rows: int | None, one_partition: bool
) -> dict[str, Any]:
    """Materialization metadata: row counts as numbers (plotted per partition), the described
    schema and where to find the table. Rows of the run's window are the rows dlt loaded
    (dagster-dlt's `rows_loaded`, left out when 0). A single run over several partitions
    reports them as `rows` only: Dagster copies the materialization to every partition of the
    range, so a per-partition count would be the range's total.
    """
    loaded = metadata.get("rows_loaded")
    rows_in_window = int(loaded.value if isinstance(loaded, MetadataValue) else loaded or 0)
    schema = metadata.get("dagster/column_schema")
    if isinstance(schema, MetadataValue):
        schema = schema.value
    extra = dict(
        TableMetadataSet(
            partition_row_count=rows_in_window if one_partition else None,
            row_count=total_rows,
            column_schema=described(schema if isinstance(schema, TableSchema) else None, table),
        )
    )
    return {
        **metadata,
        **{k: v for k, v in extra.items() if v is not None},
        "rows": MetadataValue.int(rows_in_window),
        **location_metadata(table.name),
    }
