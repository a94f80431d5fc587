"""Helpers shared by the sandbox tests: spec validators and a tiny keep-alive HTTP client."""

from __future__ import annotations

import base64
import http.client
import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from stripe_assets_tests.needs import unavailable

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SPEC = SHARED / "stripe-openapi" / "spec3.json"


def _nullable_to_anyof(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` -> JSON Schema ``anyOf: [..., {"type": "null"}]``."""
    if isinstance(node, list):
        return [_nullable_to_anyof(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_anyof(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def require_shared() -> None:
    if not SPEC.exists():
        unavailable(f"Stripe OpenAPI spec not found at {SPEC} (shared/ must sit beside the repo)")


@cache
def _spec_schemas() -> dict[str, Any]:
    require_shared()
    spec = json.loads(SPEC.read_text())
    return _nullable_to_anyof(spec["components"]["schemas"])


@cache
def validator(schema_name: str) -> Any:
    """A jsonschema validator for ``components.schemas[schema_name]`` of spec3.json."""
    import jsonschema

    schemas = _spec_schemas()
    root = {"components": {"schemas": schemas}, "$ref": f"#/components/schemas/{schema_name}"}
    return jsonschema.Draft7Validator(root)


def assert_valid(schema_name: str, obj: Any) -> None:
    errors = sorted(validator(schema_name).iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        path = "/".join(map(str, e.path))
        raise AssertionError(
            f"{schema_name} {obj.get('id')!r} invalid at {path}: {e.message[:300]}"
        )


class Client:
    """Keep-alive HTTP/1.1 client for one sandbox; returns (status, headers, parsed JSON)."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float = 30) -> None:
        u = urlsplit(base_url)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.api_key = api_key
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def close(self) -> None:
        self.conn.close()

    def raw(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        auth: str | None = "bearer",
    ) -> tuple[int, dict[str, str], bytes]:
        if params:
            path = f"{path}?{urlencode(params)}"
        hdrs = dict(headers or {})
        if self.api_key and auth == "bearer":
            hdrs.setdefault("Authorization", f"Bearer {self.api_key}")
        elif self.api_key and auth == "basic":
            token = base64.b64encode(f"{self.api_key}:".encode()).decode()
            hdrs.setdefault("Authorization", f"Basic {token}")
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                payload = resp.read()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str, params: Any = None, **kw: Any) -> tuple[int, dict[str, str], Any]:
        status, headers, payload = self.raw("GET", path, params, **kw)
        return status, headers, json.loads(payload)

    def ok(self, path: str, params: Any = None) -> Any:
        status, _, body = self.get(path, params)
        assert status == 200, (path, params, status, body)
        return body

    def post(self, path: str, body: Any = None) -> Any:
        status, _, payload = self.raw("POST", path, body=body if body is not None else {})
        data = json.loads(payload)
        assert status == 200, (path, status, data)
        return data

    def walk(self, path: str, params: Any = None, limit: int = 100) -> list:
        """Every object of a list endpoint via starting_after, newest first."""
        out: list = []
        base = list(params.items()) if isinstance(params, dict) else list(params or [])
        base.append(("limit", limit))
        cursor: list[tuple[str, Any]] = []
        while True:
            page = self.ok(path, base + cursor)
            out.extend(page["data"])
            if not page["has_more"]:
                return out
            cursor = [("starting_after", page["data"][-1]["id"])]


DAY = 86400
APRIL_1 = 1711929600  # 2024-04-01T00:00:00Z


def small_config(**overrides: Any) -> Any:
    """A 7-day, scale-1 sandbox configuration (fast to generate and to walk)."""
    from stripe_assets.sandbox import SandboxConfig

    base: dict[str, Any] = {"seed": 7, "start": "2024-04-01", "end": "2024-04-08", "scale": 1.0}
    base.update(overrides)
    return SandboxConfig(**base)


@pytest.fixture(scope="module", name="sandbox")
def module_sandbox() -> Any:
    """A module-wide running sandbox on a free port (7 days, seed 7); import it into a test
    module to shadow the session-wide ``sandbox`` of conftest.py."""
    from stripe_assets.sandbox import running_sandbox

    with running_sandbox(small_config()) as sb:
        yield sb


@pytest.fixture(name="client")
def sandbox_client(sandbox: Any) -> Any:
    """A keep-alive ``Client`` for the module's sandbox."""
    c = Client(sandbox.base_url, sandbox.api_key)
    yield c
    c.close()


@pytest.fixture(name="c")
def own_sandbox_client(sb: Any) -> Any:
    """A keep-alive ``Client`` for a module's own sandbox fixture ``sb``."""
    client = Client(sb.base_url, sb.api_key)
    yield client
    client.close()
