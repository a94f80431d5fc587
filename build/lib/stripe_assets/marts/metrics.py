"""This month's MRR figures from `stripe_marts.mrr_summary`: numeric metadata on its
materialization (plotted over runs in the UI) and the MRR-by-month table `make demo` prints."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from dagster import MetadataValue

from stripe_assets.marts.profile import MARTS_SCHEMA

SUMMARY = f"{MARTS_SCHEMA}.mrr_summary"
CURRENT_MONTH_SQL = f"""
select month, currency, mrr_major, arr_major, active_subscriptions, customer_churn_rate,
       revenue_churn_rate
from {SUMMARY}
where month = (select max(month) from {SUMMARY})
order by currency
"""
BY_MONTH_SQL = f"""
select month, currency, mrr_major, new_mrr_major, expansion_mrr_major, contraction_mrr_major,
       churned_mrr_major, reactivation_mrr_major, active_subscriptions, customer_churn_rate
from {SUMMARY}
order by month, currency
"""


def query_warehouse(sql: str) -> list[tuple[Any, ...]]:
    """Rows of `sql` in the load's warehouse, through dlt's client (any destination)."""
    from stripe_assets.warehouse import build_pipeline

    with (
        tempfile.TemporaryDirectory(prefix="stripe-assets-marts-") as pipelines_dir,
        build_pipeline(pipelines_dir).sql_client() as client,
    ):
        return [tuple(row) for row in client.execute_sql(sql) or []]


def current_month_metadata(rows: Sequence[tuple[Any, ...]]) -> dict[str, MetadataValue]:
    """Per currency of the latest month: `mrr_<cur>`, `arr_<cur>` (major units),
    `active_subscriptions_<cur>`, `customer_churn_rate_<cur>`, `revenue_churn_rate_<cur>`
    (rates left out while undefined: no MRR the month before), plus `active_subscriptions`
    over all currencies and the `month`."""
    if not rows:
        return {"month": MetadataValue.text("no MRR yet")}
    metadata: dict[str, MetadataValue] = {"month": MetadataValue.text(str(rows[0][0]))}
    total = 0
    for _month, currency, mrr, arr, active, customer_churn, revenue_churn in rows:
        metadata[f"mrr_{currency}"] = MetadataValue.float(float(mrr))
        metadata[f"arr_{currency}"] = MetadataValue.float(float(arr))
        metadata[f"active_subscriptions_{currency}"] = MetadataValue.int(int(active))
        if customer_churn is not None:
            metadata[f"customer_churn_rate_{currency}"] = MetadataValue.float(float(customer_churn))
        if revenue_churn is not None:
            metadata[f"revenue_churn_rate_{currency}"] = MetadataValue.float(float(revenue_churn))
        total += int(active)
    metadata["active_subscriptions"] = MetadataValue.int(total)
    return metadata


def _money(value: Decimal | float | None) -> str:
    if value is None:
        return ""
    text = f"{Decimal(value):,.3f}".rstrip("0").rstrip(".")
    return text


def format_mrr_by_month(rows: Sequence[tuple[Any, ...]]) -> str:
    """A small text table: one line per month and currency, money in major units."""
    header = ("month", "cur", "MRR", "new", "expansion", "contraction", "churned",
              "reactivation", "active subs", "cust. churn")  # fmt: skip
    lines = [header]
    for month, currency, *money, active, churn in rows:
        month_text = month.strftime("%Y-%m") if isinstance(month, date) else str(month)[:7]
        churn_text = "" if churn is None else f"{float(churn):.1%}"
        lines.append((month_text, currency, *map(_money, money), str(active), churn_text))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in
                  enumerate(zip(line, widths, strict=True)))
        for line in lines
    )  # fmt: skip
