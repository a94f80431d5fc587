"""The dlt pipeline and destination: DuckDB by default, any dlt destination by config."""

from __future__ import annotations

from typing import Any

import dlt
from dlt.common.destination import Destination
from dlt.common.runtime.anon_tracker import disable_anon_tracker

from stripe_assets.settings import DATASET_NAME, PIPELINE_NAME, destination_name, duckdb_path


def build_destination() -> Destination[Any, Any]:
    """`STRIPE_DESTINATION` (default duckdb); credentials through dlt's usual settings."""
    name = destination_name()
    if name == "duckdb":
        return dlt.destinations.duckdb(credentials=duckdb_path())
    return Destination.from_reference(name)


def build_pipeline(pipelines_dir: str | None = None) -> dlt.Pipeline:
    no_dlt_telemetry()
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=pipelines_dir,
        destination=build_destination(),
        dataset_name=DATASET_NAME,
    )


def no_dlt_telemetry() -> None:
    """dlt sends anonymous usage events to dlthub by default; this project calls no host but
    Stripe and the warehouse. `RUNTIME__DLTHUB_TELEMETRY=true` (or config.toml) turns it on."""
    key = "runtime.dlthub_telemetry"
    if dlt.config.get(key) is None:
        dlt.config[key] = False
        disable_anon_tracker()  # dlt may have started it when first imported


def loader_file_format(pipeline: dlt.Pipeline) -> str | None:
    """Parquet where the destination takes it (DuckDB's default insert_values is slow)."""
    capabilities = pipeline.destination.capabilities()
    return "parquet" if "parquet" in capabilities.supported_loader_file_formats else None
