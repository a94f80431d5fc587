"""Peer Stripe connectors (Singer tap-stripe, Airbyte source-stripe) run against a sandbox.

The peers are never project dependencies (AGPL / ELv2): each gets its own virtualenv under
a cache dir, created at run time from PyPI. Each runs as a subprocess through a small shim
that points it at the sandbox and pins its sync end to the benchmark window's end; its
stdout (Singer or Airbyte RECORD messages) is counted per warehouse table.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CACHE_ENV = "STRIPE_ASSETS_BENCH_CACHE"
"""Root of the peers' virtualenvs (default ``~/.cache/stripe-assets-bench``)."""

TAP = "tap-stripe"
AIRBYTE = "airbyte"


@dataclass(frozen=True)
class Peer:
    name: str
    package: str
    version: str
    module: str  # imported by the shim


PEERS: dict[str, Peer] = {
    TAP: Peer(TAP, "tap-stripe", "3.3.0", "tap_stripe"),
    AIRBYTE: Peer(AIRBYTE, "airbyte-source-stripe", "5.14.1", "source_stripe"),
}

# Peer stream -> our table. Everything else a peer might emit is ignored.
STREAMS: dict[str, dict[str, str]] = {
    TAP: {
        s: s
        for s in (
            "charges",
            "customers",
            "invoices",
            "invoice_line_items",
            "subscriptions",
            "subscription_items",
            "payouts",
            "payout_transactions",
        )
    },
    AIRBYTE: {
        "charges": "charges",
        "customers": "customers",
        "invoices": "invoices",
        "invoice_line_items": "invoice_line_items",
        "subscriptions": "subscriptions",
        "subscription_items": "subscription_items",
        "payouts": "payouts",
        "payout_balance_transactions": "payout_transactions",
    },
}

# Our composite keys, read from each peer's record: (parent column candidates..., "id").
_PARENT_KEY: dict[str, tuple[str, ...]] = {
    "invoice_line_items": ("invoice", "invoice_id"),
    "payout_transactions": ("payout_id", "payout"),
}


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "stripe-assets-bench")


def venv_python(peer: str) -> Path:
    return cache_dir() / "venvs" / peer / "bin" / "python"


def venv_ready(peer: str) -> bool:
    spec = PEERS[peer]
    py = venv_python(peer)
    if not py.exists():
        return False
    probe = (
        "import importlib.metadata as m; "
        + f"assert m.version({spec.package!r}) == {spec.version!r}"
    )
    return subprocess.run([str(py), "-c", probe], capture_output=True).returncode == 0


def ensure_venv(peer: str) -> Path:
    """Create (once) the peer's virtualenv and install its pinned release from PyPI."""
    spec = PEERS[peer]
    py = venv_python(peer)
    if venv_ready(peer):
        return py
    venv = py.parent.parent
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    requirement = f"{spec.package}=={spec.version}"
    if Path(uv).exists():
        subprocess.run([uv, "venv", "--python", sys.executable, str(venv)], check=True)
        env = {**os.environ, "VIRTUAL_ENV": str(venv)}
        subprocess.run([uv, "pip", "install", requirement], check=True, env=env)
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", requirement], check=True)
    return py


def peer_version(peer: str) -> str:
    code = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
    extra = {AIRBYTE: "airbyte-cdk", TAP: "stripe"}[peer]
    versions = []
    for pkg in (PEERS[peer].package, extra):
        out = subprocess.run([str(venv_python(peer)), "-c", code, pkg], capture_output=True)
        versions.append(f"{pkg} {out.stdout.decode().strip() or '?'}")
    return ", ".join(versions)


IMPORTS = {TAP: "import tap_stripe", AIRBYTE: "from source_stripe.run import run"}


def import_seconds(python: str | Path, code: str) -> float:
    """Wall time of a fresh interpreter importing the tool: its fixed start-up cost."""
    started = time.perf_counter()
    subprocess.run([str(python), "-c", code], check=True, capture_output=True)
    return time.perf_counter() - started


# --- shims: run inside the peer's venv -------------------------------------------------

TAP_SHIM = r"""
import json, os, re, sys
from datetime import datetime, timezone
import singer.metrics, singer.utils, stripe, tap_stripe

stripe.api_base = os.environ["BENCH_API_BASE"]  # module-level base used by every request
END = datetime.fromtimestamp(int(os.environ["BENCH_END_TS"]), tz=timezone.utc)
singer.utils.now = lambda: END  # the tap syncs [start_date, now): pin now to the window end

def timer(client):  # the tap's own timer only parses api.stripe.com URLs
    original = client.request
    def request(*args, **kwargs):
        found = re.search(r"/v1/(\w+)", args[1])
        with singer.metrics.http_request_timer(found.group(1) if found else "other"):
            return original(*args, **kwargs)
    client.request = request
tap_stripe.apply_request_timer_to_client = timer

tap_stripe.STREAM_TO_EXPAND_FIELDS.clear()  # sandbox: 400 on these paths (data.sources, ...)
account_retrieve = stripe.Account.retrieve  # the tap's account id is not the sandbox's: /v1/account
stripe.Account.retrieve = lambda id=None, **params: account_retrieve(None, **params)

def phase(fn, name):  # mark which pass (created window / events) the next records come from
    def wrapped(stream, *args, **kwargs):
        sys.stdout.write(json.dumps({"type": "BENCH_PHASE", "phase": name}) + "\n")
        sys.stdout.flush()
        return fn(stream, *args, **kwargs)
    return wrapped
tap_stripe.sync_stream = phase(tap_stripe.sync_stream, "created")
tap_stripe.sync_event_updates = phase(tap_stripe.sync_event_updates, "events")
if os.environ.get("BENCH_TAP_NO_EVENTS"):
    tap_stripe.sync_event_updates = lambda *args, **kwargs: None
sys.argv[0] = "tap-stripe"
tap_stripe.main()
"""

AIRBYTE_SHIM = r"""
import os, sys
from source_stripe import SourceStripe
from source_stripe.run import run

BASE, END = os.environ["BENCH_API_BASE"], os.environ["BENCH_END_ISO"]

def patch(node):
    if isinstance(node, dict):
        if "url_base" in node:  # hard-coded https://api.stripe.com/v1
            node["url_base"] = BASE + "/v1"
        params = node.get("request_parameters")
        if isinstance(params, dict):  # sandbox: 400 on these expand[] paths (the source ignores it)
            params.pop("expand[]", None)
        end = node.get("end_datetime")
        if isinstance(end, dict) and "now_utc()" in str(end.get("datetime")):
            end["datetime"] = END  # created[lte] bound: the window end, not wall-clock now
        for value in node.values():
            patch(value)
    elif isinstance(node, list):
        for value in node:
            patch(value)

original = SourceStripe._read_and_parse_yaml_file
def read(self, path):
    manifest = original(self, path)
    patch(manifest)
    return manifest
SourceStripe._read_and_parse_yaml_file = read
sys.argv[0] = "source-stripe"
run()
"""


# --- results ---------------------------------------------------------------------------


@dataclass
class PeerRun:
    tool: str
    wall_s: float
    returncode: int
    rows: dict[str, int] = field(default_factory=dict)
    """Distinct keys per our table (ours: rows after merge)."""
    messages: dict[str, int] = field(default_factory=dict)
    """RECORD messages per our table (duplicates included)."""
    event_rows: dict[str, int] = field(default_factory=dict)
    """tap-stripe only: RECORD messages written by its /v1/events update pass."""
    errors: list[str] = field(default_factory=list)
    log: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _key(table: str, record: dict[str, Any]) -> tuple[Any, ...]:
    parents = _PARENT_KEY.get(table)
    if not parents:
        return (record.get("id"),)
    parent = next((record[c] for c in parents if record.get(c) is not None), None)
    return (parent, record.get("id"))


class _Counter:
    def __init__(self, peer: str) -> None:
        self.streams = STREAMS[peer]
        self.keys: dict[str, set[tuple[Any, ...]]] = {t: set() for t in self.streams.values()}
        self.messages: Counter[str] = Counter()
        self.event_rows: Counter[str] = Counter()
        self.errors: list[str] = []
        self.phase = "created"

    def feed(self, line: str) -> None:
        if not line.startswith("{"):
            return
        try:
            msg = json.loads(line)
        except ValueError:
            return
        kind = msg.get("type")
        if kind == "BENCH_PHASE":
            self.phase = msg["phase"]
        elif kind == "RECORD":
            # Singer: {"stream", "record"}; Airbyte: {"record": {"stream", "data"}}
            body = msg["record"]
            stream, data = (
                (msg["stream"], body) if "stream" in msg else (body["stream"], body["data"])
            )
            table = self.streams.get(stream)
            if table is None:
                return
            self.messages[table] += 1
            self.keys[table].add(_key(table, data))
            if self.phase == "events":
                self.event_rows[table] += 1
        elif kind == "TRACE" and msg.get("trace", {}).get("type") == "ERROR":
            self.errors.append(str(msg["trace"].get("error", {}).get("message"))[:300])


def _run(
    peer: str, args: list[str], env: dict[str, str], workdir: Path, timeout_s: float
) -> PeerRun:
    shim = workdir / f"{peer}_shim.py"
    shim.write_text(TAP_SHIM if peer == TAP else AIRBYTE_SHIM)
    log = workdir / f"{peer}.stderr.log"
    counter = _Counter(peer)
    started = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.Popen(
            [str(venv_python(peer)), str(shim), *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=workdir,
            env={**os.environ, **env},
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                counter.feed(line)
                if time.perf_counter() - started > timeout_s:
                    proc.kill()
                    counter.errors.append(f"killed after {timeout_s:.0f} s")
                    break
        finally:
            returncode = proc.wait()
    wall = time.perf_counter() - started
    if returncode and not counter.errors:
        tail = log.read_text().strip().splitlines()[-3:]
        counter.errors.append(" | ".join(tail)[-300:])
    return PeerRun(
        tool=peer,
        wall_s=wall,
        returncode=returncode,
        rows={t: len(k) for t, k in counter.keys.items()},
        messages=dict(counter.messages),
        event_rows=dict(counter.event_rows),
        errors=counter.errors,
        log=log,
    )


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dump(path: Path, obj: Any) -> str:
    path.write_text(json.dumps(obj, indent=1))
    return str(path)


def run_tap_stripe(
    base_url: str,
    api_key: str,
    account_id: str,
    gte: int,
    lt: int,
    workdir: Path,
    *,
    events: bool = True,
    timeout_s: float = 1800,
) -> PeerRun:
    """Singer tap-stripe over [gte, lt): start_date=gte, "now" pinned to lt."""
    config = {"client_secret": api_key, "account_id": account_id, "start_date": _iso(gte)}
    catalog = _tap_catalog(workdir)
    args = ["--config", _dump(workdir / "tap_config.json", config), "--catalog", catalog]
    env = {"BENCH_API_BASE": base_url, "BENCH_END_TS": str(lt)}
    if not events:
        env["BENCH_TAP_NO_EVENTS"] = "1"
    return _run(TAP, args, env, workdir, timeout_s)


def _tap_catalog(workdir: Path) -> str:
    """The tap's own discovered catalog (no request made), our streams selected."""
    code = "import json, tap_stripe; print(json.dumps(tap_stripe.discover()))"
    out = subprocess.run([str(venv_python(TAP)), "-c", code], capture_output=True, check=True)
    catalog = json.loads(out.stdout)
    for stream in catalog["streams"]:
        selected = stream["tap_stream_id"] in STREAMS[TAP]
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = selected
    return _dump(workdir / "tap_catalog.json", catalog)


def run_airbyte(
    base_url: str,
    api_key: str,
    account_id: str,
    gte: int,
    lt: int,
    workdir: Path,
    *,
    timeout_s: float = 1800,
) -> PeerRun:
    """Airbyte source-stripe, first (full refresh) sync of created in [gte, lt - 1 s]."""
    config = {"client_secret": api_key, "account_id": account_id, "start_date": _iso(gte)}
    streams = [
        {
            "stream": {
                "name": name,
                "json_schema": {},
                "supported_sync_modes": ["full_refresh", "incremental"],
            },
            "sync_mode": "full_refresh",
            "destination_sync_mode": "overwrite",
        }
        for name in STREAMS[AIRBYTE]
    ]
    args = [
        "read",
        "--config",
        _dump(workdir / "airbyte_config.json", config),
        "--catalog",
        _dump(workdir / "airbyte_catalog.json", {"streams": streams}),
    ]
    env = {"BENCH_API_BASE": base_url, "BENCH_END_ISO": _iso(lt - 1)}
    return _run(AIRBYTE, args, env, workdir, timeout_s)


RUNNERS: dict[str, Callable[..., PeerRun]] = {TAP: run_tap_stripe, AIRBYTE: run_airbyte}
