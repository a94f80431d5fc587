"""Sandbox configuration: data window, volume, server address and fault settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from stripe_assets.tables import DAY, EVENT_RETENTION_SECONDS

DEFAULT_API_KEY = "sk_test_sandbox"
"""The key the sandbox accepts unless told otherwise (``Authorization: Bearer sk_test_sandbox``)."""

DEFAULT_STRIPE_VERSION = "2022-11-15"
"""Echoed in the ``Stripe-Version`` response header when the request sends none."""

FAULT_KINDS = (
    "500",
    "502",
    "503",
    "409",
    "429",
    "drop",
    "truncate",
    "invalid_json",
    "missing_fields",
)
"""Fault kinds accepted in ``SandboxConfig.faults`` (value = probability per /v1 request)."""

RUNTIME_FIELDS = (
    "latency_ms",
    "jitter_ms",
    "spike_rate",
    "spike_ms",
    "rate_limit",
    "retry_after",
    "should_retry_header",
    "faults",
    "activity_per_second",
)
"""Fields that ``/_sandbox/config`` (``SandboxHandle.configure``) may change while serving."""


def to_unix(day: str | date | datetime | int) -> int:
    """UTC midnight of a ``YYYY-MM-DD`` date (or a datetime / Unix seconds) as Unix seconds."""
    if isinstance(day, bool):
        raise TypeError("expected a date, not a bool")
    if isinstance(day, int):
        return day
    if isinstance(day, str):
        day = date.fromisoformat(day[:10]) if len(day) <= 10 else datetime.fromisoformat(day)
    if isinstance(day, datetime):
        if day.tzinfo is None:
            day = day.replace(tzinfo=UTC)
        return int(day.timestamp())
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass
class SandboxConfig:
    """Everything that shapes a sandbox. Data is a pure function of (seed, start, end, scale).

    ``start``/``end`` are UTC dates (end exclusive). ``scale=1.0`` gives roughly 100-200
    top-level objects per day. ``faults`` maps a kind from ``FAULT_KINDS`` to a probability.
    """

    seed: int = 42
    start: str = "2024-04-01"
    end: str = "2024-05-01"
    scale: float = 1.0
    api_key: str = DEFAULT_API_KEY
    host: str = "127.0.0.1"
    port: int = 0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    rate_limit: float = 0.0
    faults: dict[str, float] = field(default_factory=dict)
    spike_rate: float = 0.0
    """Probability that a /v1 request gets an extra ``spike_ms`` of latency."""
    spike_ms: float = 0.0
    retry_after: float | None = None
    """When set, 429 responses carry ``Retry-After`` (seconds)."""
    should_retry_header: bool = False
    """When true, error responses carry ``Stripe-Should-Retry: true/false`` like Stripe."""
    activity_per_second: float = 0.0
    """Random background mutations/creations per second (0 = none)."""
    clock_offset: float = 0.0
    """Initial sandbox clock offset in seconds (sandbox now = wall clock + offset)."""
    event_retention_days: int = EVENT_RETENTION_SECONDS // DAY
    volumes: dict[str, float] = field(default_factory=dict)
    """Per registry table: objects a day at scale 1 (or, for a table made per referenced
    object such as refunds, the share of those objects), overriding the registry's default."""
    restricted_keys: dict[str, list[str]] = field(default_factory=dict)
    """Restricted keys the account accepts besides ``api_key``, each with the permissions it
    lacks (the registry's names: "Payouts", "Events", ...): Stripe's 403 for those lists."""
    platform: bool = True
    """A Connect platform (connected accounts, transfers, application fees); otherwise
    ``/v1/accounts`` answers Stripe's 403 and there are no Connect objects."""
    prerender: bool = True
    """Render every object's JSON at start-up (fast first pages; about 1 GB per million
    objects). False renders each table on its first read instead (quick start for tests)."""

    def __post_init__(self) -> None:
        self.validate()

    @property
    def start_ts(self) -> int:
        return to_unix(self.start)

    @property
    def end_ts(self) -> int:
        return to_unix(self.end)

    def validate(self) -> None:
        """Raise ``ValueError`` on an inconsistent configuration."""
        if self.end_ts <= self.start_ts:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        if self.scale < 0:
            raise ValueError("scale must be >= 0")
        for name in ("latency_ms", "jitter_ms", "rate_limit", "spike_rate", "spike_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        validate_faults(self.faults)
        validate_volumes(self.volumes)

    def replace(self, **changes: Any) -> SandboxConfig:
        return dataclasses.replace(self, **changes)


def validate_volumes(volumes: dict[str, float]) -> None:
    """Volumes name registry tables that the sandbox generates, with non-negative values."""
    from stripe_assets.tables import TABLES_BY_NAME

    for name, value in volumes.items():
        entry = TABLES_BY_NAME.get(name)
        if entry is None or entry.is_child:
            raise ValueError(f"unknown volume {name!r}; expected a top-level table of the registry")
        if float(value) < 0:
            raise ValueError(f"volume of {name} must be >= 0")


def validate_faults(faults: dict[str, float]) -> None:
    """Check fault kinds and that the probabilities are within [0, 1] and sum to <= 1."""
    total = 0.0
    for kind, p in faults.items():
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"fault probability for {kind!r} must be within [0, 1]")
        total += float(p)
    if total > 1.0 + 1e-9:
        raise ValueError(f"fault probabilities sum to {total:.3f} > 1")
