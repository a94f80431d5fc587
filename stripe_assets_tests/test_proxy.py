"""Proxy variables are honoured although requests no longer re-reads the environment on each
request (`read_environment_once`): a dead proxy fails every request, `NO_PROXY` bypasses it."""

from __future__ import annotations

import socket

import pytest
from requests.exceptions import ProxyError

from stripe_assets.settings import StripeSettings
from stripe_assets.source.client import StripeClient
from stripe_assets.source.errors import StripeUnavailableError
from stripe_assets.source.progress import RunProgress


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _first_page(base_url: str, key: str) -> list:
    settings = StripeSettings.resolve(api_key=key, api_base=base_url, requests_per_second=200)
    client = StripeClient(settings, RunProgress())
    return next(client.iter_pages("/v1/customers", {}, table="customers"))


@pytest.fixture
def dead_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("STRIPE_RETRY_BACKOFF", "0.001")
    monkeypatch.setenv("STRIPE_RETRY_MAX_DELAY", "0.002")


def test_http_proxy_variable_is_used(sandbox, dead_proxy) -> None:
    with pytest.raises(StripeUnavailableError) as failure:
        _first_page(sandbox.base_url, sandbox.api_key)
    assert isinstance(failure.value.__cause__, ProxyError)


def test_no_proxy_bypasses_the_proxy(sandbox, dead_proxy, monkeypatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    rows = _first_page(sandbox.base_url, sandbox.api_key)
    assert rows and {row["object"] for row in rows} == {"customer"}
