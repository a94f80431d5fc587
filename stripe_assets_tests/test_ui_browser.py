"""The browser test: `dg dev` on loopback, driven by headless Chromium through Playwright.

Sees the `stripe` group's eight assets and three lineage edges on the asset graph, launches one
partition from the "Materialize all" dialog, follows the run page to success and checks the
rows in DuckDB against the sandbox's ground truth, and that `dg dev` printed no warning.
Screenshots land in `test-artifacts/`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import requests

from stripe_assets.tables import TABLES
from stripe_assets_tests.conftest import DAILY, EVENTFUL, Warehouse, day_window
from stripe_assets_tests.needs import unavailable
from stripe_assets_tests.test_readme_commands import warnings_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
SHOTS = {name: ARTIFACTS / f"ui_browser_{name}.png" for name in ("graph", "launch", "run")}
FAILURE_SHOT = ARTIFACTS / "ui_browser_failure.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SERVER_START_TIMEOUT_S = 180
RUN_TIMEOUT_MS = 180_000
UI_TIMEOUT_MS = 60_000

EXPECTED_ASSETS = {t.name for t in TABLES}
EXPECTED_EDGES = {(t.child.parent, t.name) for t in TABLES if t.child}

# Each lineage edge is an SVG path with an arrow marker (hovering a node overlays a highlighted
# copy, hence the dedupe on `d`); each asset node a <foreignObject> whose title carries
# `data-tooltip="<name>"`. Both live in the graph's SVG, so an edge's two end points tell
# which nodes it joins, whatever the layout direction. An end far from every node is an edge
# to a link of another group (the stripe_marts models downstream): left out.
EDGES_JS = """() => {
  const nodes = [...document.querySelectorAll('foreignObject [data-tooltip]')].map(el => {
    const r = el.closest('foreignObject').getBoundingClientRect();
    return {name: el.getAttribute('data-tooltip'), r};
  });
  const dist = (p, r) => Math.hypot(
    Math.max(r.left - p.x, 0, p.x - r.right), Math.max(r.top - p.y, 0, p.y - r.bottom));
  const nearest = p => {
    const node = nodes.reduce((a, b) => dist(p, a.r) <= dist(p, b.r) ? a : b);
    return dist(p, node.r) <= 12 ? node.name : null;
  };
  const paths = document.querySelectorAll('path[marker-end][stroke*="lineage-edge"]');
  const edges = {};
  for (const path of paths) {
    const m = path.getScreenCTM();
    const at = len => {
      const p = path.getPointAtLength(len);
      return new DOMPoint(p.x, p.y).matrixTransform(m);
    };
    const ends = [nearest(at(0)), nearest(at(path.getTotalLength()))];
    if (!ends.includes(null)) edges[path.getAttribute('d')] = ends;
  }
  return Object.values(edges);
}"""
ASSETS_QUERY = "{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }"
RUN_QUERY = (
    "query($id: ID!) { runOrError(runId: $id) { ... on Run { status tags { key value } } } }"
)
EVENTS_QUERY = (
    "query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection "
    "{ events { __typename ... on MessageEvent { message } } } } }"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def _sigint_not_ignored() -> Iterator[None]:
    """Children inherit an ignored SIGINT (e.g. pytest started in the background by a shell);
    `dg dev` stops on SIGINT only, so make sure it can receive it."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous is signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass
class DevServer:
    url: str
    log: Path
    process: subprocess.Popen
    leftovers: list[str] = field(default_factory=list)

    def graphql(self, query: str, **variables: str) -> dict:
        payload = {"query": query, "variables": variables}
        response = requests.post(f"{self.url}/graphql", json=payload, timeout=30)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


def _wait_until_serving(server: DevServer) -> None:
    """Poll `/server_info`, then GraphQL until the code location's assets are loaded."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert server.process.poll() is None, f"dg dev exited:\n{_tail(server.log)}"
        with contextlib.suppress(requests.RequestException, AssertionError):
            requests.get(f"{server.url}/server_info", timeout=5).raise_for_status()
            if server.graphql("{ assetNodes { id } }")["assetNodes"]:
                return
        time.sleep(1)
    raise AssertionError(
        f"dg dev not serving after {SERVER_START_TIMEOUT_S}s:\n{_tail(server.log)}"
    )


def _session(sid: int) -> list[psutil.Process]:
    """Every process of session `sid`, orphans included."""
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getsid(proc.pid) == sid:
                members.append(proc)
    return members


def _stop(server: DevServer) -> None:
    """SIGINT by pid (how `dg dev` wants to stop), then SIGKILL the group as a last
    resort; record (and kill) any process of its session still alive."""
    process = server.process
    try:
        tree = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    if process.poll() is None:
        os.kill(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.leftovers.append(f"dg dev (pid {process.pid}) ignored SIGINT for 60s")
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    remaining = {p.pid: p for p in [*tree, *_session(process.pid)]}
    _, alive = psutil.wait_procs(list(remaining.values()), timeout=20)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            server.leftovers.append(f"pid {proc.pid}: {' '.join(proc.cmdline())[:120]}")
            proc.kill()


@contextlib.contextmanager
def dg_dev(env: dict[str, str], log: Path) -> Iterator[DevServer]:
    """`dg dev` in the repository root (the project's [tool.dg]), as the README runs it."""
    port = _free_port()
    command = [str(Path(sys.executable).with_name("dg")), "dev", "-h", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as out, _sigint_not_ignored():
        process = subprocess.Popen(
            command, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    server = DevServer(url=f"http://127.0.0.1:{port}", log=log, process=process)
    try:
        _wait_until_serving(server)
        yield server
    finally:
        _stop(server)


def _drawn_edges(page, timeout_s: float = 60) -> list[tuple[str, str]]:
    """The (parent, child) pairs the graph draws, once as many as expected are drawn."""
    deadline = time.monotonic() + timeout_s
    while True:
        edges = [tuple(pair) for pair in page.evaluate(EDGES_JS)]
        if len(edges) >= len(EXPECTED_EDGES) or time.monotonic() > deadline:
            return edges
        time.sleep(0.25)


@pytest.fixture
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} missing: apt-get install chromium chromium-driver (.ci/run does)")
    return CHROMIUM


def _dev_env(sandbox, dagster_home: Path, warehouse: Warehouse) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DAGSTER_"))}
    env.pop("DESTINATION__DUCKDB__CREDENTIALS", None)
    env.update(
        STRIPE_API_BASE=sandbox.base_url,
        STRIPE_API_KEY=sandbox.api_key,
        STRIPE_START_DATE="2024-05-01",
        DAGSTER_HOME=str(dagster_home),
        DESTINATION__DUCKDB__CREDENTIALS=str(warehouse.path),
        PYTHONUNBUFFERED="1",
        VIRTUAL_ENV=sys.prefix,  # `source .venv/bin/activate`
    )
    return env


# The stripe_marts models a group's page links to, downstream of the loads.
EXPECTED_MART_LINKS = ("invoice_details", "mrr_summary", "subscription_details")


def _see_graph(page, server: DevServer) -> None:
    """Group `stripe` on the asset graph: eight asset nodes, three lineage edges, and links to
    the marts downstream."""
    from playwright.sync_api import expect

    page.goto(f"{server.url}/locations/stripe_assets/asset-groups/stripe")
    if server.graphql("{ shouldShowNux }")["shouldShowNux"]:
        # A fresh instance greets with "Join the Dagster community": skip it, as a user would.
        page.get_by_role("dialog").get_by_role("button", name="Skip").click()
    titles = page.locator("foreignObject [data-tooltip]")
    expect(titles).to_have_count(len(EXPECTED_ASSETS), timeout=UI_TIMEOUT_MS)
    loading = page.get_by_text(re.compile(r"^Loading"))
    expect(loading).to_have_count(0, timeout=UI_TIMEOUT_MS)
    page.mouse.move(1, 1)  # hover highlights nothing
    edges = _drawn_edges(page)
    page.screenshot(path=SHOTS["graph"])
    names = {titles.nth(i).get_attribute("data-tooltip") for i in range(titles.count())}
    assert names == EXPECTED_ASSETS, f"see {SHOTS['graph']}"
    assert sorted(edges) == sorted(EXPECTED_EDGES), f"see {SHOTS['graph']}"
    for mart in EXPECTED_MART_LINKS:
        expect(page.get_by_text(mart, exact=True).first).to_be_visible()


def _launch_partition(page, partition: str) -> None:
    """The graph's "Materialize all" -> partition dialog -> one partition -> launch."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    page.get_by_role("button", name=re.compile("Materialize all")).click()
    dialog = page.get_by_role("dialog")
    show_all = dialog.get_by_text("Show all partitions")  # offered beyond the last 90 days
    with contextlib.suppress(PlaywrightTimeout):
        show_all.wait_for(timeout=3_000)
    if show_all.is_visible():
        show_all.click()
    keys = dialog.locator("input[type=text]").first
    keys.fill(partition)
    keys.press("Enter")
    selected = dialog.get_by_text("1 partition", exact=True)
    expect(selected).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.screenshot(path=SHOTS["launch"])
    dialog.get_by_role("button", name="Launch 1 run").click()


def _follow_run(page, partition: str) -> str:
    """From the "Launched run" toast to the run page, until its status tag is final."""
    from playwright.sync_api import expect

    page.locator("[data-sonner-toast] a[href^='/runs/']").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
    expect(page.get_by_text(f"partition: {partition}")).to_be_visible(timeout=UI_TIMEOUT_MS)
    status = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
    status.wait_for(timeout=RUN_TIMEOUT_MS)
    page.screenshot(path=SHOTS["run"])
    assert status.inner_text() == "Success", f"see {SHOTS['run']}"
    run_success = page.get_by_text("RUN_SUCCESS", exact=True)
    expect(run_success).to_be_visible(timeout=UI_TIMEOUT_MS)
    return page.url.rsplit("/", 1)[-1]


def test_materialize_one_partition_from_the_ui(
    sandbox, busy_day, warehouse, tmp_path, chromium_path
):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    for stale in [*SHOTS.values(), FAILURE_SHOT]:
        stale.unlink(missing_ok=True)
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", dagster_home / "dagster.yaml")
    log = ARTIFACTS / "ui_browser_dg_dev.log"
    started = time.monotonic()
    timings: dict[str, float] = {}

    with dg_dev(_dev_env(sandbox, dagster_home, warehouse), log) as server:
        timings["server_ready_s"] = time.monotonic() - started

        # What the graph draws, as the UI's own GraphQL API reports it.
        nodes = server.graphql(ASSETS_QUERY)["assetNodes"]
        stripe_nodes = {n["assetKey"]["path"][-1]: n for n in nodes if n["groupName"] == "stripe"}
        assert set(stripe_nodes) == EXPECTED_ASSETS
        api_edges = {
            (dep["path"][-1], name)
            for name, node in stripe_nodes.items()
            for dep in node["dependencyKeys"]
        }
        assert api_edges == EXPECTED_EDGES

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            # The lineage graph draws only the nodes in view: tall enough for every table
            # (and the links to the marts beside them).
            height = max(1200, 220 * len(EXPECTED_ASSETS))
            page = browser.new_page(viewport={"width": 1600, "height": height})
            page.set_default_timeout(UI_TIMEOUT_MS)
            try:
                _see_graph(page, server)
                timings["graph_seen_s"] = time.monotonic() - started
                _launch_partition(page, busy_day)
                launched_at = time.monotonic()
                run_id = _follow_run(page, busy_day)
                timings["run_s"] = time.monotonic() - launched_at
                page_html = page.content()
            except Exception as exc:
                with contextlib.suppress(Exception):
                    page.screenshot(path=FAILURE_SHOT)
                exc.add_note(f"screenshot: {FAILURE_SHOT}; dg dev log: {log}")
                raise
            finally:
                browser.close()

        run = server.graphql(RUN_QUERY, id=run_id)["runOrError"]
        events = server.graphql(EVENTS_QUERY, id=run_id)
    timings["total_s"] = time.monotonic() - started

    assert server.leftovers == [], f"processes left after SIGINT: {server.leftovers}"
    assert warnings_in(log.read_text(errors="replace")) == [], f"warnings in {log}"
    assert run["status"] == "SUCCESS", f"see {SHOTS['run']} and {log}"
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags.get("dagster/partition") == busy_day
    assert tags.get("dagster/from_ui") == "true"
    assert sandbox.api_key not in page_html
    assert sandbox.api_key not in str(events)

    truth = sandbox.counts(*day_window(busy_day))
    assert all(truth[t.name] > 0 for t in EVENTFUL), "the day should fill every daily table"
    rows = warehouse.counts()
    assert rows == {t.name: truth[t.name] for t in DAILY}, (
        f"rows in {warehouse.path} differ from the sandbox's counts; see {SHOTS['run']}"
    )
    print(
        f"\nui browser timings: { {k: round(v, 1) for k, v in timings.items()} }; "
        f"rows: {rows}; screenshots: {', '.join(str(p) for p in SHOTS.values())}"
    )
