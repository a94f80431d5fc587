"""Every knob in one place: environment names, defaults, API version, request budget.

Nothing here reads a secret at import time: `StripeSettings.resolve()` is called when a run
starts, so the code location loads with no key set.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import dlt

# Public configuration contract (documented in the README).
API_KEY_ENV = "STRIPE_API_KEY"
API_BASE_ENV = "STRIPE_API_BASE"
API_VERSION_ENV = "STRIPE_API_VERSION"
START_DATE_ENV = "STRIPE_START_DATE"
DESTINATION_ENV = "STRIPE_DESTINATION"
DUCKDB_PATH_ENV = "DESTINATION__DUCKDB__CREDENTIALS"
REQUESTS_PER_SECOND_ENV = "STRIPE_REQUESTS_PER_SECOND"
MAX_WORKERS_ENV = "STRIPE_MAX_WORKERS"
PAGE_PROCESSES_ENV = "STRIPE_PAGE_PROCESSES"
POOL_ENV = "STRIPE_POOL"
BACKFILL_POLICY_ENV = "STRIPE_BACKFILL_POLICY"
REREAD_DAYS_ENV = "STRIPE_REREAD_DAYS"
MARTS_AUTOMATION_INTERVAL_ENV = "STRIPE_MARTS_AUTOMATION_INTERVAL"

DEFAULT_API_BASE = "https://api.stripe.com"
DEFAULT_API_VERSION = "2022-11-15"
DEFAULT_START_DATE = "2024-01-01"
DEFAULT_DESTINATION = "duckdb"
# Never name the file like the dataset ("stripe.duckdb"): dlt then confuses file and dataset.
DEFAULT_DUCKDB_PATH = "stripe_warehouse.duckdb"
DEFAULT_POOL = "stripe_warehouse"
DEFAULT_MARTS_AUTOMATION_INTERVAL = 30  # seconds between the marts sensor's evaluations
# Tables whose objects change without an event we read: the daily schedule reloads their last
# N daily partitions (a balance transaction turns `available` days after it is created).
# Names that are not tables (yet) are ignored in the defaults.
DEFAULT_REREAD_DAYS = {"balance_transactions": 14}

PIPELINE_NAME = "stripe"
DATASET_NAME = "stripe"
GROUP_NAME = "stripe"
ASSET_KEY_PREFIX = "stripe"
PAGE_LIMIT = 100

# Stripe's documented read limits: 25 req/s in test mode, 100 req/s in live mode.
TEST_MODE_REQUESTS_PER_SECOND = 25.0
LIVE_MODE_REQUESTS_PER_SECOND = 100.0
DEFAULT_MAX_WORKERS = 8  # at least; more under a high budget (`default_max_workers`)
MAX_DEFAULT_WORKERS = 50
REQUEST_TIMEOUT_SECONDS = 60.0
# Retries of connection errors, timeouts, 5xx, 429, 409 lock_timeout and malformed pages.
MAX_RETRIES = 15
MAX_ATTEMPTS = MAX_RETRIES + 1
RETRY_BACKOFF_ENV = "STRIPE_RETRY_BACKOFF"  # seconds of the first backoff (doubles per retry)
RETRY_MAX_DELAY_ENV = "STRIPE_RETRY_MAX_DELAY"  # cap of one backoff, seconds
DEFAULT_RETRY_BACKOFF = 0.5
DEFAULT_RETRY_MAX_DELAY = 30.0


class MissingApiKeyError(RuntimeError):
    """No Stripe key was configured for a run."""


def default_requests_per_second(api_key: str) -> float:
    """25 req/s for test-mode keys, 100 for live keys (Stripe's read limits)."""
    is_test = api_key.startswith(("sk_test_", "rk_test_"))
    return TEST_MODE_REQUESTS_PER_SECOND if is_test else LIVE_MODE_REQUESTS_PER_SECOND


def _lookup(env_name: str) -> str | None:
    """An environment variable, else the same name in dlt's config/secrets toml files."""
    value = os.environ.get(env_name)
    if value:
        return value
    try:
        found = dlt.secrets.get(env_name.lower())
    except Exception:  # a malformed toml must not hide the clearer error raised later
        found = None
    return str(found) if found else None


@dataclass(frozen=True)
class StripeSettings:
    """What one run needs to talk to Stripe. The key never appears in its repr."""

    api_key: str = field(repr=False)
    api_base: str = DEFAULT_API_BASE
    api_version: str = DEFAULT_API_VERSION
    requests_per_second: float = TEST_MODE_REQUESTS_PER_SECOND
    max_workers: int = DEFAULT_MAX_WORKERS
    page_processes: int = 0
    """Worker processes that parse and convert pages (0: in the run's process)."""

    @classmethod
    def resolve(
        cls,
        api_key: str | None = None,
        api_base: str | None = None,
        api_version: str | None = None,
        requests_per_second: float | None = None,
        max_workers: int | None = None,
        page_processes: int | None = None,
    ) -> StripeSettings:
        """Explicit values first, then environment variables, then dlt secrets/config."""
        key = api_key or _lookup(API_KEY_ENV)
        if not key:
            raise MissingApiKeyError(
                f"No Stripe API key: set the environment variable {API_KEY_ENV} "
                f'(or `{API_KEY_ENV.lower()} = "..."` in .dlt/secrets.toml). '
                "To try the project without a key, run `stripe-assets sandbox` and point "
                f"{API_BASE_ENV} at it."
            )
        rps = requests_per_second or _float(_lookup(REQUESTS_PER_SECOND_ENV))
        rps = rps or default_requests_per_second(key)
        workers = max_workers or _int(_lookup(MAX_WORKERS_ENV))
        return cls(
            api_key=key,
            api_base=(api_base or _lookup(API_BASE_ENV) or DEFAULT_API_BASE).rstrip("/"),
            api_version=api_version or _lookup(API_VERSION_ENV) or DEFAULT_API_VERSION,
            requests_per_second=rps,
            max_workers=workers or default_max_workers(rps),
            page_processes=_page_processes(page_processes),
        )


def default_max_workers(requests_per_second: float) -> int:
    """Enough requests in flight to use the budget at Stripe's ~0.25-0.5 s per page: half
    the budget (50 at live mode's 100 req/s), at least 8 and at most 50."""
    return min(MAX_DEFAULT_WORKERS, max(DEFAULT_MAX_WORKERS, math.ceil(requests_per_second / 2)))


def _page_processes(explicit: int | None) -> int:
    """Explicit, else STRIPE_PAGE_PROCESSES (0 keeps page work in the run's process), else
    one per core up to 4: the run's process feeds them about one core of HTTP work."""
    if explicit is not None:
        return max(0, explicit)
    configured = _lookup(PAGE_PROCESSES_ENV)
    if configured is not None:
        try:
            return max(0, int(configured))
        except ValueError:
            raise ValueError(
                f"{PAGE_PROCESSES_ENV} must be a whole number of processes, got {configured!r}"
            ) from None
    return max(1, min(4, os.cpu_count() or 1))


def _float(value: str | None) -> float | None:
    return float(value) if value else None


def _int(value: str | None) -> int | None:
    return int(value) if value else None


def start_date() -> str:
    """First daily partition (UTC), `YYYY-MM-DD`."""
    return os.environ.get(START_DATE_ENV) or DEFAULT_START_DATE


def destination_name() -> str:
    return os.environ.get(DESTINATION_ENV) or DEFAULT_DESTINATION


def duckdb_path() -> str:
    return os.environ.get(DUCKDB_PATH_ENV) or DEFAULT_DUCKDB_PATH


# Op tag on every step that opens the warehouse: the multiprocess executor runs them one at a
# time on a single-writer warehouse (DuckDB), see executors.py.
WAREHOUSE_STEP_TAG = "stripe/warehouse"


def single_writer_warehouse() -> bool:
    """DuckDB (the default) lets one process write a file at a time."""
    return destination_name() == "duckdb"


def pool_name() -> str:
    return os.environ.get(POOL_ENV) or DEFAULT_POOL


def backfill_partitions_per_run() -> int | None:
    """STRIPE_BACKFILL_POLICY as the most daily partitions one backfill run loads: None for
    `single_run` (default: one run loads the whole range), 1 for `multi_run` (one run per
    partition), N for `multi_run:N`. Read at import: it shapes the asset definition.
    """
    raw = os.environ.get(BACKFILL_POLICY_ENV) or "single_run"
    value = raw.strip().lower().replace(" ", "")
    if value == "single_run":
        return None
    if value == "multi_run":
        return 1
    chunked = re.fullmatch(r"multi_run:([0-9]+)", value)
    if chunked and int(chunked[1]) >= 1:
        return int(chunked[1])
    raise ValueError(
        f"{BACKFILL_POLICY_ENV}={raw!r} is not a backfill policy. Write `single_run` (a backfill "
        "is one run over the whole range), `multi_run` (one run per daily partition) or "
        "`multi_run:N` (runs of at most N days, e.g. multi_run:31)."
    )


def reread_days(tables: Sequence[str]) -> dict[str, int]:
    """STRIPE_REREAD_DAYS over the defaults: how many of its latest daily partitions the daily
    schedule reloads per table (1 = yesterday only). The value is a comma-separated list
    applied in order: `N` sets every table, `table=N` one table (`0` and `1` mean no re-read).
    E.g. `balance_transactions=14,charges=3`, or `0` to turn re-reading off.
    """
    days = {table: 1 for table in tables}
    days.update({t: n for t, n in DEFAULT_REREAD_DAYS.items() if t in days})
    raw = os.environ.get(REREAD_DAYS_ENV, "")
    for item in filter(None, (part.strip() for part in raw.split(","))):
        parsed = re.fullmatch(r"(?:(\w+)\s*=\s*)?([0-9]+)", item)
        if parsed is None:
            raise ValueError(
                f"{REREAD_DAYS_ENV}={raw!r}: `{item}` is not `N` or `table=N` with N a whole "
                "number of days, e.g. STRIPE_REREAD_DAYS=balance_transactions=14,charges=3."
            )
        table, count = parsed[1], max(1, int(parsed[2]))
        if table is not None and table not in days:
            raise ValueError(
                f"{REREAD_DAYS_ENV}={raw!r}: `{table}` is not a table; tables are "
                f"{', '.join(tables)}."
            )
        days.update(dict.fromkeys([table] if table else tables, count))
    return days


def marts_automation_interval() -> int:
    """Seconds between evaluations of the marts automation sensor (read at import)."""
    raw = os.environ.get(MARTS_AUTOMATION_INTERVAL_ENV) or str(DEFAULT_MARTS_AUTOMATION_INTERVAL)
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ValueError(
            f"{MARTS_AUTOMATION_INTERVAL_ENV}={raw!r} must be a whole number of seconds, >= 1."
        )
    return int(raw)


def retry_backoff() -> tuple[float, float]:
    """(first backoff, cap) in seconds, read when a run starts. Tests make both tiny."""
    first = _float(os.environ.get(RETRY_BACKOFF_ENV)) or DEFAULT_RETRY_BACKOFF
    cap = _float(os.environ.get(RETRY_MAX_DELAY_ENV)) or DEFAULT_RETRY_MAX_DELAY
    return first, cap
