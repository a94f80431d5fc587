"""Every knob in one place: environment names, defaults, API version, request budget.

Nothing here reads a secret at import time: `StripeSettings.resolve()` is called when a run
starts, so the code location loads with no key set.
"""

from __future__ import annotations

import math
import os
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

DEFAULT_API_BASE = "https://api.stripe.com"
DEFAULT_API_VERSION = "2022-11-15"
DEFAULT_START_DATE = "2024-01-01"
DEFAULT_DESTINATION = "duckdb"
# Never name the file like the dataset ("stripe.duckdb"): dlt then confuses file and dataset.
DEFAULT_DUCKDB_PATH = "stripe_warehouse.duckdb"
DEFAULT_POOL = "stripe_warehouse"
BACKFILL_POLICIES = ("single_run", "multi_run")

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


def pool_name() -> str:
    return os.environ.get(POOL_ENV) or DEFAULT_POOL


def backfill_policy_name() -> str:
    """`single_run` (default: one run loads the whole range) or `multi_run` (one run per
    partition). Read at import: it shapes the asset definition (not a secret).
    """
    value = (os.environ.get(BACKFILL_POLICY_ENV) or "single_run").strip().lower()
    if value not in BACKFILL_POLICIES:
        raise ValueError(f"{BACKFILL_POLICY_ENV} must be one of {BACKFILL_POLICIES}, not {value!r}")
    return value


def retry_backoff() -> tuple[float, float]:
    """(first backoff, cap) in seconds, read when a run starts. Tests make both tiny."""
    first = _float(os.environ.get(RETRY_BACKOFF_ENV)) or DEFAULT_RETRY_BACKOFF
    cap = _float(os.environ.get(RETRY_MAX_DELAY_ENV)) or DEFAULT_RETRY_MAX_DELAY
    return first, cap
