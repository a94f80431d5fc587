"""Fault injection, latency and the rate limit fire at the configured rates, only on /v1."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import pytest

from stripe_assets.sandbox import running_sandbox
from stripe_assets_tests.sandbox_fixtures import Client, small_config


@pytest.fixture(scope="module")
def sb() -> Any:
    with running_sandbox(small_config(seed=11)) as handle:
        yield handle


CALM = {
    "faults": {},
    "rate_limit": 0,
    "latency_ms": 0,
    "jitter_ms": 0,
    "spike_rate": 0,
    "retry_after": None,
    "should_retry_header": False,
}


@pytest.fixture(autouse=True)
def _calm(sb: Any) -> Any:
    sb.configure(**CALM)
    yield
    sb.configure(**CALM)


def classify(sb: Any, path: str = "/v1/charges?limit=3") -> tuple[str, dict[str, str]]:
    """One request on a fresh connection; returns the outcome as the client sees it."""
    u = urlsplit(sb.base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {sb.api_key}"})
        try:
            resp = conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return "drop", {}
        headers = {k.lower(): v for k, v in resp.getheaders()}
        try:
            body = resp.read()
        except http.client.IncompleteRead:
            return "truncate", headers
        if resp.status != 200:
            return str(resp.status), headers
        try:
            data = json.loads(body)
        except ValueError:
            return "invalid_json", headers
        if "data" not in data or "has_more" not in data:
            return "missing_fields", headers
        return "ok", headers
    finally:
        conn.close()


def test_ten_percent_500s(sb: Any) -> None:
    sb.configure(faults={"500": 0.10})
    sb.reset_stats()
    c = Client(sb.base_url, sb.api_key)
    statuses = Counter()
    for _ in range(1000):
        status, _, body = c.get("/v1/customers", {"limit": 1})
        statuses[status] += 1
        if status == 500:
            assert body["error"]["type"] == "api_error"
    c.close()
    assert set(statuses) == {200, 500}
    assert 60 <= statuses[500] <= 140, statuses
    assert sb.stats()["faults"] == {"500": statuses[500]}


def test_every_fault_kind_fires(sb: Any) -> None:
    kinds = ["502", "503", "409", "drop", "truncate", "invalid_json", "missing_fields"]
    sb.configure(faults={k: 0.06 for k in kinds})
    seen = Counter(classify(sb)[0] for _ in range(1000))
    for kind in kinds:
        assert 25 <= seen[kind] <= 100, (kind, seen)
    assert 400 <= seen["ok"] <= 650, seen
    assert set(seen) <= {*kinds, "ok"}


def test_lock_timeout_and_api_error_bodies(sb: Any) -> None:
    c = Client(sb.base_url, sb.api_key)
    sb.configure(faults={"409": 1.0}, should_retry_header=True)
    status, headers, body = c.get("/v1/charges")
    assert (status, body["error"]["code"]) == (409, "lock_timeout")
    assert headers["stripe-should-retry"] == "true"
    sb.configure(faults={"503": 1.0}, should_retry_header=True)
    status, headers, body = c.get("/v1/charges")
    assert (status, body["error"]["type"]) == (503, "api_error")
    sb.configure(faults={}, should_retry_header=True)
    status, headers, _ = c.get("/v1/charges/ch_nope")
    assert (status, headers["stripe-should-retry"]) == (404, "false")
    sb.configure(should_retry_header=False)
    status, headers, _ = c.get("/v1/charges/ch_nope")
    assert "stripe-should-retry" not in headers
    c.close()


def test_faults_never_touch_sandbox_endpoints(sb: Any) -> None:
    sb.configure(faults={"drop": 1.0}, rate_limit=1)
    for _ in range(20):
        assert sb.counts(0, 2**40)["charges"] > 0
        assert sb.stats()["total"] >= 0
    assert classify(sb)[0] == "drop"


def test_rate_limit_429_above_and_not_below(sb: Any) -> None:
    sb.configure(rate_limit=20, retry_after=1)
    c = Client(sb.base_url, sb.api_key)
    outcomes = Counter()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        status, headers, body = c.get("/v1/customers", {"limit": 1})
        outcomes[status] += 1
        if status == 429:
            assert body["error"]["code"] == "rate_limit"
            assert body["error"]["type"] == "invalid_request_error"
            assert body["error"]["message"].startswith("Request rate limit exceeded.")
            assert headers["retry-after"] == "1"
    assert outcomes[429] > 0
    # 20 burst + 20/s for 2 s, give or take scheduling
    assert 35 <= outcomes[200] <= 80, outcomes
    # below the limit: 10 req/s allowed, send about 6/s for ~3 s (more than the burst)
    sb.configure(rate_limit=10)
    below = Counter()
    for _ in range(18):
        below[c.get("/v1/customers", {"limit": 1})[0]] += 1
        time.sleep(1 / 6)
    assert below == Counter({200: 18})
    c.close()


def test_latency_does_not_block_other_requests(sb: Any) -> None:
    sb.configure(latency_ms=300)
    durations: list[float] = []

    def one() -> None:
        t0 = time.monotonic()
        assert classify(sb)[0] == "ok"
        durations.append(time.monotonic() - t0)

    t0 = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    assert len(durations) == 12
    assert min(durations) >= 0.29
    assert wall < 12 * 0.3 / 2, f"requests were serialized: {wall:.2f}s"
    # admin endpoints are never delayed
    t0 = time.monotonic()
    sb.stats()
    assert time.monotonic() - t0 < 0.29


def test_jitter_and_spikes_vary_latency(sb: Any) -> None:
    sb.configure(latency_ms=50, jitter_ms=40, spike_rate=0.2, spike_ms=250)
    c = Client(sb.base_url, sb.api_key)
    times = []
    for _ in range(40):
        t0 = time.monotonic()
        c.get("/v1/customers", {"limit": 1})
        times.append(time.monotonic() - t0)
    c.close()
    assert min(times) >= 0.009
    assert max(times) > 0.25  # some spikes
    assert len({round(t, 2) for t in times}) > 5  # jitter


def test_fault_sequence_is_deterministic_by_seed() -> None:
    cfg = small_config(seed=99, faults={"500": 0.2, "503": 0.2})

    def sequence() -> list[int]:
        with running_sandbox(cfg) as handle:
            c = Client(handle.base_url, handle.api_key)
            out = [c.get("/v1/payouts", {"limit": 1})[0] for _ in range(60)]
            c.close()
            return out

    first = sequence()
    assert first == sequence()
    assert {500, 503, 200} <= set(first)
