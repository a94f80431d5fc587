"""Latency, rate limiting and fault injection for ``/v1`` requests, deterministic by seed.

The n-th ``/v1`` request's fault and latency are pure functions of (seed, n); the rate limit is
a token bucket (``rate_limit`` requests per second, burst of one second's worth).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .config import SandboxConfig, validate_faults
from .data import mix

_TWO64 = float(1 << 64)


@dataclass(frozen=True)
class Decision:
    """What to do with one /v1 request."""

    n: int
    delay: float
    fault: str | None
    rate_limited: bool


class FaultInjector:
    """Per-request decisions; ``update`` changes settings at runtime."""

    def __init__(self, cfg: SandboxConfig) -> None:
        self.seed = cfg.seed
        self.k_fault = mix(cfg.seed, 0xFA17)
        self.k_lat = mix(cfg.seed, 0x1A7E)
        self.k_spike = mix(cfg.seed, 0x5B1C)
        self.n = 0
        self.latency_ms = 0.0
        self.jitter_ms = 0.0
        self.spike_rate = 0.0
        self.spike_ms = 0.0
        self.rate_limit = 0.0
        self.retry_after: float | None = None
        self.should_retry_header = False
        self.faults: list[tuple[float, str]] = []
        self.fault_rates: dict[str, float] = {}
        self._tokens = 0.0
        self._last = time.monotonic()
        self.update(
            latency_ms=cfg.latency_ms,
            jitter_ms=cfg.jitter_ms,
            spike_rate=cfg.spike_rate,
            spike_ms=cfg.spike_ms,
            rate_limit=cfg.rate_limit,
            retry_after=cfg.retry_after,
            should_retry_header=cfg.should_retry_header,
            faults=cfg.faults,
        )

    def update(self, **changes: Any) -> None:
        """Apply runtime changes (unknown keys raise ``ValueError``)."""
        for key, value in changes.items():
            if key == "faults":
                rates = {str(k): float(v) for k, v in (value or {}).items()}
                validate_faults(rates)
                self.fault_rates = rates
                acc, table = 0.0, []
                for kind, p in sorted(rates.items()):
                    if p > 0:
                        acc += p
                        table.append((acc, kind))
                self.faults = table
            elif key == "rate_limit":
                self.rate_limit = float(value or 0)
                if self.rate_limit < 0:
                    raise ValueError("rate_limit must be >= 0")
                self._tokens = max(1.0, self.rate_limit)
                self._last = time.monotonic()
            elif key == "retry_after":
                self.retry_after = None if value is None else float(value)
            elif key == "should_retry_header":
                self.should_retry_header = bool(value)
            elif key in ("latency_ms", "jitter_ms", "spike_rate", "spike_ms"):
                if float(value) < 0:
                    raise ValueError(f"{key} must be >= 0")
                setattr(self, key, float(value))
            else:
                raise ValueError(f"unknown setting {key!r}")

    def settings(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "jitter_ms": self.jitter_ms,
            "spike_rate": self.spike_rate,
            "spike_ms": self.spike_ms,
            "rate_limit": self.rate_limit,
            "retry_after": self.retry_after,
            "should_retry_header": self.should_retry_header,
            "faults": dict(self.fault_rates),
        }

    def _take_token(self) -> bool:
        if self.rate_limit <= 0:
            return True
        now = time.monotonic()
        cap = max(1.0, self.rate_limit)
        self._tokens = min(cap, self._tokens + (now - self._last) * self.rate_limit)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def decide(self) -> Decision:
        """Decision for the next /v1 request."""
        n = self.n
        self.n += 1
        delay = self.latency_ms
        if self.jitter_ms:
            u = mix(self.k_lat, n) / _TWO64
            delay = max(0.0, delay + (2 * u - 1) * self.jitter_ms)
        if self.spike_rate and mix(self.k_spike, n) / _TWO64 < self.spike_rate:
            delay += self.spike_ms
        fault = None
        if self.faults:
            u = mix(self.k_fault, n) / _TWO64
            for edge, kind in self.faults:
                if u < edge:
                    fault = kind
                    break
        limited = not self._take_token()
        return Decision(n, delay / 1000.0, fault, limited)
