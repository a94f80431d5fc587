"""Page worker processes (`stripe_assets.pages`): the warehouse is the same with and without
them; a dead worker costs no page; they never see the key; they stop when pages stop."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import duckdb
import pytest
import requests

from stripe_assets.pages.decode import MalformedPage, PageJob
from stripe_assets.pages.pool import IDLE_SECONDS, PageDecoder
from stripe_assets.settings import StripeSettings
from stripe_assets.source import CreatedWindow
from stripe_assets.source.progress import RunProgress
from stripe_assets_tests.conftest import (
    DAILY,
    EVENTFUL,
    SANDBOX_END,
    SANDBOX_START,
    day_window,
    load_window,
)

NAMES = [t.name for t in DAILY]


def _load(sandbox, tmp_path: Path, processes: int) -> tuple[dict, dict, RunProgress]:
    """Load the whole sandbox window; every table's rows (without dlt's ids) and types."""
    db = tmp_path / f"p{processes}.duckdb"
    settings = StripeSettings.resolve(
        api_key=sandbox.api_key, api_base=sandbox.base_url, page_processes=processes
    )
    progress = RunProgress()
    gte, lt = day_window(SANDBOX_START)[0], day_window(SANDBOX_END)[0]
    load_window(db, CreatedWindow(gte, lt), settings, progress=progress, tables=NAMES)
    rows, types = {}, {}
    with duckdb.connect(str(db), read_only=True) as con:
        for t in EVENTFUL:  # (no events in this sandbox: no such table)
            types[t.name] = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'stripe' and table_name = ? order by column_name",
                [t.name],
            ).fetchall()
            # By name: a column's position follows the page that first had it, and pages
            # decoded by workers arrive in any order.
            columns = ", ".join(f'"{c}"' for c, _ in types[t.name] if not c.startswith("_dlt"))
            rows[t.name] = con.execute(
                f"select {columns} from stripe.{t.name} order by all"
            ).fetchall()
    return rows, types, progress


def test_workers_and_in_process_decoding_load_the_same_warehouse(sandbox, tmp_path):
    rows, types, progress = _load(sandbox, tmp_path, processes=2)
    rows_here, types_here, progress_here = _load(sandbox, tmp_path, processes=0)
    truth = sandbox.counts(day_window(SANDBOX_START)[0], day_window(SANDBOX_END)[0])
    assert {t: len(r) for t, r in rows.items()} == {t.name: truth[t.name] for t in EVENTFUL}
    assert all(rows.values())
    assert types == types_here
    assert rows == rows_here
    assert progress.pages_in_workers > 0, "the workers should have decoded pages"
    assert progress_here.pages_in_workers == 0 and progress_here.pages_in_process > 0


def _invoice_page(sandbox) -> bytes:
    response = requests.get(
        f"{sandbox.base_url}/v1/invoices",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.content


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A dead child stays a zombie until its reader thread waits for it.
        if Path(f"/proc/{pid}/status").read_text().find("State:\tZ") >= 0:
            return True
        time.sleep(0.05)
    return False


def test_a_killed_worker_loses_no_page(sandbox):
    body = _invoice_page(sandbox)
    warnings: list[str] = []
    progress = RunProgress(log=warnings.append)
    decoder = PageDecoder(1, progress)
    job = PageJob("invoices", kids=("invoice_line_items",))
    (pid,) = decoder.start(wait=30)
    in_worker = decoder.decode(body, job)
    assert progress.pages_in_workers == 1
    os.kill(pid, signal.SIGKILL)
    assert _wait_gone(pid, 10)
    again = decoder.decode(body, job)  # the dead worker is noticed; decoded here
    assert progress.pages_in_process == 1
    assert again.table.equals(in_worker.table)
    assert again.more == in_worker.more and in_worker.count == 100
    assert again.embedded["invoice_line_items"].equals(in_worker.embedded["invoice_line_items"])
    assert any(f"page worker {pid}" in w and "run's process" in w for w in warnings), warnings


def test_workers_raise_malformed_pages_like_the_run_does(sandbox):
    decoder = PageDecoder(1, RunProgress())
    decoder.start(wait=30)
    with pytest.raises(MalformedPage, match="not valid JSON"):
        decoder.decode(b'{"object": "list", "data": [', PageJob("charges"))
    with pytest.raises(MalformedPage, match="not a list page"):
        decoder.decode(b'{"object": "charge"}', PageJob("charges"))
    page = decoder.decode(_invoice_page(sandbox), PageJob("invoices"))
    assert page.count == 100  # the worker still serves after a bad page
    decoder.close()


def test_workers_stop_when_idle_and_never_see_the_key(sandbox, monkeypatch):
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_never_in_a_worker")
    decoder = PageDecoder(2, RunProgress())
    pids = decoder.start(wait=30)
    for pid in pids:
        assert b"sk_test_never_in_a_worker" not in Path(f"/proc/{pid}/environ").read_bytes()
    decoder.decode(_invoice_page(sandbox), PageJob("invoices"))
    assert all(_wait_gone(pid, IDLE_SECONDS * 5) for pid in pids)
    restarted = decoder.start(wait=30)  # the next page starts them again
    assert set(restarted).isdisjoint(pids)
    decoder.close()
    assert all(_wait_gone(pid, 10) for pid in restarted)
