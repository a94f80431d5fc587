"""Concurrency behaviour: `created` slices cover a window exactly, the request budget is
respected (sandbox rate limit = budget: no 429s) and adapts down when Stripe says 429."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from dagster import instance_for_test

from stripe_assets.sandbox import SandboxConfig, running_sandbox
from stripe_assets.settings import StripeSettings
from stripe_assets.source import CreatedWindow
from stripe_assets.source.client import StripeClient
from stripe_assets.source.slicing import SlicedWalk, WalkerGate
from stripe_assets.tables import TABLES_BY_NAME
from stripe_assets_tests.conftest import DAILY, Warehouse, load_window, run_partitions

# 10 days at scale 4: ~1,800 charges, enough pages for the walk to split.
WIDE = SandboxConfig(seed=11, start="2024-03-01", end="2024-03-11", scale=4.0)
BUSY_PAYOUTS = WIDE.replace(volumes={"charges": 100})  # daily payouts of ~400 transactions


def _load(sb, tmp_path: Path, settings: StripeSettings, tables=None) -> dict[str, int]:
    """Extract, normalize and load the sandbox window into a fresh DuckDB; row counts."""
    db = tmp_path / "w.duckdb"
    load_window(db, CreatedWindow(sb.config.start_ts, sb.config.end_ts), settings, tables)
    counts = Warehouse(db).counts()
    return {t: counts[t] for t in tables or [t.name for t in DAILY]}


def test_slices_cover_the_window_without_gaps_or_overlaps():
    with running_sandbox(WIDE) as sb:
        client = StripeClient(
            StripeSettings.resolve(
                api_key=sb.api_key, api_base=sb.base_url, requests_per_second=1000, max_workers=8
            )
        )
        gte, lt = WIDE.start_ts, WIDE.end_ts
        with ThreadPoolExecutor(16) as pool:
            walk = SlicedWalk(
                client,
                "/v1/charges",
                {},
                CreatedWindow(gte, lt),
                table="charges",
                executor=pool,
                gate=WalkerGate(client, 8),
                convert=lambda page: page.rows,
            )
            rows = [row for page in walk if page is not None for row in page]
        truth = sb.counts(gte, lt)["charges"]
        slices = sorted(walk.slices)
    assert len(slices) > 1, "a wide window should be walked by several cursors"
    assert slices[0][0] == gte and slices[-1][1] == lt
    assert all(a[1] == b[0] for a, b in itertools.pairwise(slices)), slices
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)) == truth
    for row in rows:  # each object came from the slice holding its `created`
        assert gte <= row["created"] < lt
    # Splitting costs at most one partial page per extra slice.
    assert client.progress.total_requests <= -(-truth // 100) + len(slices)


def test_wide_window_loads_every_table_exactly(tmp_path):
    with running_sandbox(WIDE) as sb:
        settings = StripeSettings.resolve(
            api_key=sb.api_key, api_base=sb.base_url, requests_per_second=1000
        )
        counts = _load(sb, tmp_path, settings)
        truth = sb.counts(WIDE.start_ts, WIDE.end_ts)
    assert counts == {t.name: truth[t.name] for t in DAILY}


def test_budget_equal_to_the_rate_limit_gets_no_429s(tmp_path):
    cfg = WIDE.replace(scale=6.0, rate_limit=25.0, latency_ms=20.0)
    with running_sandbox(cfg) as sb:  # test key: the default budget is 25 req/s
        settings = StripeSettings.resolve(api_key=sb.api_key, api_base=sb.base_url)
        assert settings.requests_per_second == 25.0
        counts = _load(sb, tmp_path, settings, tables=["charges", "invoices", "customers"])
        stats = sb.stats()
        truth = sb.counts(cfg.start_ts, cfg.end_ts)
    assert counts == {t: truth[t] for t in counts}
    made = stats["total"]
    assert made >= 50
    assert stats["by_status"].get("429", 0) <= max(1, made // 100), stats["by_status"]


def test_budget_adapts_down_on_429(tmp_path):
    cfg = WIDE.replace(scale=6.0, rate_limit=15.0)
    with running_sandbox(cfg) as sb:
        settings = StripeSettings.resolve(
            api_key=sb.api_key, api_base=sb.base_url, requests_per_second=60.0
        )
        counts = _load(sb, tmp_path, settings, tables=["charges", "customers", "invoices"])
        budget = StripeClient(settings).http.budget  # the process-wide budget of the run
        stats = sb.stats()
        truth = sb.counts(cfg.start_ts, cfg.end_ts)
    assert counts == {t: truth[t] for t in counts}
    assert stats["by_status"].get("429", 0) > 0
    assert budget.throttles > 0 and budget.rate < 60.0


@pytest.mark.parametrize("table", ["charges"])
def test_a_narrow_window_costs_no_extra_request(sandbox, table):
    """One day (a normal partition) is walked by one cursor: minimum requests."""
    from stripe_assets_tests.conftest import day_window

    gte, lt = day_window("2024-05-03")
    client = StripeClient(
        StripeSettings.resolve(api_key=sandbox.api_key, api_base=sandbox.base_url)
    )
    with ThreadPoolExecutor(4) as pool:
        walk = SlicedWalk(
            client,
            TABLES_BY_NAME[table].path,
            {},
            CreatedWindow(gte, lt),
            table=table,
            executor=pool,
            gate=WalkerGate(client, 8),
            convert=lambda page: page.count,
        )
        rows = sum(n for n in walk if n is not None)
    assert rows == sandbox.counts(gte, lt)[table]
    assert client.progress.total_requests == max(1, -(-rows // 100))


def test_default_workers_follow_the_budget(monkeypatch):
    """Enough requests in flight for the budget at ~0.25-0.5 s per page; env var wins."""
    monkeypatch.delenv("STRIPE_MAX_WORKERS", raising=False)

    def workers(rps: float) -> int:
        return StripeSettings.resolve(api_key="sk_test_x", requests_per_second=rps).max_workers

    assert workers(5) == 8
    assert workers(25) == 13
    assert workers(100) == 50 and workers(1000) == 50
    monkeypatch.setenv("STRIPE_MAX_WORKERS", "3")
    assert workers(100) == 3


def test_a_long_payout_is_walked_by_several_cursors_exactly():
    """A payout's transactions (no known `created` range) are split open-below: same rows as
    one sequential cursor, each once, by several walkers."""
    with running_sandbox(BUSY_PAYOUTS) as sb:
        client = StripeClient(
            StripeSettings.resolve(
                api_key=sb.api_key, api_base=sb.base_url, requests_per_second=1000, max_workers=8
            )
        )
        payouts = [
            p
            for page in client.iter_pages("/v1/payouts", {}, table="payouts")
            for p in page
            if p["automatic"]
        ]
        longest, expected = None, []
        for payout in payouts:
            ids = [
                t["id"]
                for page in client.iter_pages(
                    "/v1/balance_transactions",
                    {"payout": payout["id"]},
                    table="payout_transactions",
                )
                for t in page
            ]
            if len(ids) > len(expected):
                longest, expected = payout["id"], ids
        assert len(expected) > 300, "the fixture should hold a payout of several pages"
        with ThreadPoolExecutor(16) as pool:
            walk = SlicedWalk(
                client,
                "/v1/balance_transactions",
                {"payout": longest},
                CreatedWindow(),
                table="payout_transactions",
                executor=pool,
                gate=WalkerGate(client, 8),
                convert=lambda page: page.rows,
                split_open_below=True,
            )
            ids = [row["id"] for page in walk if page is not None for row in page]
    assert len(walk.slices) > 1
    assert len(ids) == len(set(ids)) and set(ids) == set(expected)


def test_collector_thresholds_are_restored_after_a_failed_run(stripe_env, monkeypatch):
    """A run raises the garbage collector's thresholds while it extracts and puts back what
    the process had, also when the run fails (here: Stripe refuses the key)."""
    import gc

    from stripe_assets.pages.memory import BULK_GC_THRESHOLDS

    before = gc.get_threshold()
    seen: list[tuple[int, ...]] = []
    original = StripeClient.iter_decoded

    def spy(self, *args, **kwargs):
        seen.append(gc.get_threshold())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StripeClient, "iter_decoded", spy)
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_not_the_sandbox_key")
    with instance_for_test() as instance:
        result = run_partitions(instance, "2024-05-03", raise_on_error=False)
    assert not result.success
    assert seen and set(seen) == {BULK_GC_THRESHOLDS}
    assert gc.get_threshold() == before


def test_budget_serves_waiting_tables_in_turn():
    """A table asking for one request at a time (a chain of pages) is not starved by a table
    with many requests waiting: the next token goes to it, not to a lottery among them."""
    import threading

    from stripe_assets.source.budget import RequestBudget

    budget = RequestBudget(50.0)  # a token every 0.02 s
    stop = threading.Event()
    granted: list[str] = []
    lock = threading.Lock()

    def crowd() -> None:
        while not stop.is_set():
            budget.acquire("charges")
            with lock:
                granted.append("charges")

    threads = [threading.Thread(target=crowd) for _ in range(20)]
    for thread in threads:
        thread.start()
    while budget.waiting < 15:  # the burst is spent: requests queue for tokens
        threading.Event().wait(0.01)
    overtaken = []
    for _ in range(10):
        with lock:
            before = len(granted)
        budget.acquire("payout_transactions")
        with lock:
            overtaken.append(len(granted) - before)
    stop.set()
    for thread in threads:
        thread.join()
    assert budget.waiting == 0
    # Served in turn: at most the token already promised to the crowd goes first (drawing
    # lots among 20 waiters let about 10 go first on average).
    assert max(overtaken) <= 2, overtaken


def test_a_burst_of_429s_is_one_cut_and_the_rate_climbs_back(monkeypatch):
    """Concurrent requests sent at one rate come back 429 together: that is one signal, not
    twenty (which would cut 100 req/s to 1 and leave a run crawling). The rate then climbs
    back by 5% of the configured rate per second without a 429."""
    from stripe_assets.source import budget as budget_module

    clock = [1000.0]
    monkeypatch.setattr(budget_module.time, "monotonic", lambda: clock[0])
    budget = budget_module.RequestBudget(100.0)
    for _ in range(20):
        budget.throttled()
    assert budget.rate == 75.0 and budget.throttles == 20
    clock[0] += 0.5
    budget.succeeded()
    assert budget.rate == 75.0  # not within the second of the cut
    clock[0] += 0.6
    budget.throttled()  # a second later: a new signal
    assert budget.rate == 56.25
    for _ in range(10):
        clock[0] += 1.0
        budget.succeeded()
    assert budget.rate == 100.0  # +5 per second, capped at the configured rate
