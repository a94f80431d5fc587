"""Which tables the key could read, kept in the warehouse table `_stripe_access`: each run
records, per table it loaded, `ok` or `unavailable` with Stripe's reason (a restricted key
without the table's permission, a Connect list on an account that is no platform). The
`readable` asset check reads it, so a table Stripe refused shows as a failed check on its
asset, not as an empty table, and the other tables load as usual."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import dlt
import pyarrow as pa
from dlt.extract.resource import DltResource

ACCESS_TABLE = "_stripe_access"
OK, UNAVAILABLE = "ok", "unavailable"


def access_resource(tables: Iterable[str], unavailable: Mapping[str, str]) -> DltResource:
    """One row per table of the run: its access status, merged on the table's name."""
    names = sorted(tables)
    rows = pa.table(
        {
            "table_name": names,
            "status": [UNAVAILABLE if n in unavailable else OK for n in names],
            "reason": [unavailable.get(n) for n in names],
            "checked_at": pa.array([int(time.time())] * len(names), pa.timestamp("s", "UTC")),
        }
    )
    return dlt.resource(
        [rows],
        name=ACCESS_TABLE,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key="table_name",
        columns={"reason": {"data_type": "text", "nullable": True}},
    )
