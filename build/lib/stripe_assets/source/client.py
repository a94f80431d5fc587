"""The HTTP side of the source: dlt's RESTClient with Stripe's auth, cursor paginator,
retries and the shared request budget.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

from dlt.sources.helpers.requests.retry import (
    Client,
    retry_if_predicate,
    wait_exponential_retry_after,
)
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import ConnectionError, Request, Response, Session, Timeout
from requests.exceptions import ChunkedEncodingError, ContentDecodingError
from requests.utils import get_environ_proxies
from tenacity import RetryCallState, Retrying, stop_after_attempt

from stripe_assets.pages.decode import DecodedPage, MalformedPage, PageJob
from stripe_assets.pages.pool import PageDecoder
from stripe_assets.settings import (
    MAX_ATTEMPTS,
    PAGE_LIMIT,
    REQUEST_TIMEOUT_SECONDS,
    StripeSettings,
    retry_backoff,
)
from stripe_assets.source.budget import RequestBudget, shared_budget
from stripe_assets.source.errors import (
    MalformedPageError,
    StripeAPIError,
    StripeUnavailableError,
    error_for,
)
from stripe_assets.source.progress import RunProgress
from stripe_assets.tables import TABLES

RETRYABLE_EXCEPTIONS = (ConnectionError, Timeout, ChunkedEncodingError, ContentDecodingError)
# Stripe's `Retry-After` is honoured in full up to this many seconds (beyond: our own backoff).
MAX_RETRY_AFTER = 120.0
_TABLE_BY_ENDPOINT = {t.path: t.name for t in TABLES}


def endpoint_template(path: str) -> str:
    """`/v1/invoices/in_123/lines?limit=100` -> `/v1/invoices/{id}/lines`."""
    parts = path.split("?", 1)[0].split("/")
    if len(parts) > 3:
        parts[3] = "{id}"
    return "/".join(parts)


def table_of(path: str) -> str:
    """Which table a request path serves: `/v1/invoices/in_123/lines` -> invoice_line_items."""
    template = endpoint_template(path)
    return _TABLE_BY_ENDPOINT.get(template, template)


def should_retry(response: Response | None, exception: BaseException | None) -> bool:
    """Stripe's retry rules: `Stripe-Should-Retry` decides when present; else retry
    connection errors, timeouts, truncated bodies, malformed pages, 429, 5xx, 409 lock_timeout.
    """
    if isinstance(exception, StripeAPIError) and exception.response is not None:
        verdict = exception.response.headers.get("Stripe-Should-Retry")
        if verdict in ("true", "false"):
            return verdict == "true"
        return exception.retryable
    return isinstance(exception, RETRYABLE_EXCEPTIONS)


def check_list_page(
    response: Response, *args: Any, decoder: PageDecoder, job: PageJob | None, **kwargs: Any
) -> None:
    """Response hook: raise a precise error for error answers and malformed list pages.

    A valid page is parsed and converted once (`decoder`) and kept on `response.stripe_page`.
    """
    if response.status_code != 200:
        raise error_for(response)
    try:
        page = decoder.decode(response.content, job)
    except MalformedPage as exc:
        raise MalformedPageError(
            f"Stripe page from {response.request.path_url} {exc}", response
        ) from None
    response.stripe_page = page  # type: ignore[attr-defined]


class _JitteredWait(wait_exponential_retry_after):
    """Exponential backoff with 'equal jitter'; `Retry-After` wins when Stripe sends it
    (in full, even beyond the backoff cap, up to `MAX_RETRY_AFTER`)."""

    def _parse_retry_after(self, retry_after: str) -> float | None:
        cap, self.max = self.max, MAX_RETRY_AFTER
        try:
            return super()._parse_retry_after(retry_after)
        finally:
            self.max = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        retry_after = self._get_retry_after(retry_state)
        if retry_after is not None:
            return retry_after
        base = super(wait_exponential_retry_after, self).__call__(retry_state)
        return base / 2 + random.uniform(0, base / 2)


def read_environment_once(session: Session, base_url: str) -> None:
    """Resolve proxy and CA-bundle variables for `base_url` now, not per request.

    With `trust_env` on, requests scans every environment variable for proxies (and reads
    ~/.netrc) on each request: about a millisecond of CPU a page. The variables are read here
    once instead, with the same meaning (`HTTPS_PROXY`, `NO_PROXY`, `REQUESTS_CA_BUNDLE`, ...).
    """
    session.proxies.update(get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


class StripeHttp(Client):
    """dlt's retrying requests client, with the request budget and counters under the retry."""

    def __init__(
        self,
        budget: RequestBudget,
        progress: RunProgress,
        base_url: str,
        backoff: float = 0.5,
        max_delay: float = 30.0,
    ) -> None:
        super().__init__(
            request_timeout=REQUEST_TIMEOUT_SECONDS,
            raise_for_status=False,
            status_codes=(),
            exceptions=(),
            request_max_attempts=MAX_ATTEMPTS,
            retry_condition=should_retry,
            request_backoff_factor=backoff,
            request_max_retry_delay=max_delay,
        )
        self.budget = budget
        self.progress = progress
        self.backoff = backoff
        self.max_delay = max_delay
        self.base_url = base_url

    def _make_session(self) -> Session:
        session = Session()
        read_environment_once(session, self.base_url)
        session.mount("http://", self._adapter)
        session.mount("https://", self._adapter)
        send = session.send
        budget, progress = self.budget, self.progress

        def budgeted_send(request: Any, **kwargs: Any) -> Response:
            table = table_of(request.path_url)
            budget.acquire(table)
            progress.request(table)
            kwargs.setdefault("timeout", REQUEST_TIMEOUT_SECONDS)
            response = send(request, **kwargs)  # the page hook raises on a bad answer
            budget.succeeded()
            return response

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            response = getattr(exc, "response", None)
            status = response.status_code if response is not None else None
            if status == 429:
                budget.throttled()
            path = state.args[0].path_url if state.args else "?"
            reason = f"{type(exc).__name__}: {exc}" if status is None else f"HTTP {status}"
            wait = state.next_action.sleep if state.next_action else 0.0
            progress.retry(
                table_of(path),
                status,
                f"{reason} (attempt {state.attempt_number}, next in {wait:.2f}s)",
            )

        retrying = Retrying(
            wait=_JitteredWait(multiplier=self.backoff, max=self.max_delay),
            retry=retry_if_predicate(should_retry),
            stop=stop_after_attempt(MAX_ATTEMPTS),
            before_sleep=before_sleep,
            retry_error_callback=_give_up,
            reraise=True,
        )
        session.send = retrying.wraps(budgeted_send)  # type: ignore[method-assign]
        return session


def _give_up(state: RetryCallState) -> Response:
    """Every attempt failed: raise the last error, saying how often it was tried."""
    assert state.outcome is not None
    exc = state.outcome.exception()
    if exc is None:
        return state.outcome.result()  # type: ignore[no-any-return]
    tried = f"gave up after {state.attempt_number} attempts"
    if isinstance(exc, StripeAPIError):
        exc.args = (f"{exc.args[0]}; {tried}",)
        raise exc
    request = state.args[0] if state.args else None
    where = f"{request.method} {request.path_url.split('?')[0]}" if request else "Stripe"
    raise StripeUnavailableError(
        f"No complete answer from Stripe on {where} ({type(exc).__name__}: {exc}); {tried}"
    ) from exc


class StripeCursorPaginator(BasePaginator):
    """Stripe's cursor: `starting_after` = last object's id, stop when `has_more` is false."""

    def __init__(self, starting_after: str | None = None) -> None:
        super().__init__()
        self._cursor = starting_after

    def init_request(self, request: Request) -> None:
        if self._cursor:
            request.params["starting_after"] = self._cursor

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        page: DecodedPage = response.stripe_page  # type: ignore[attr-defined]
        if page.has_more:
            self._cursor = page.last_id
        else:
            self._has_next_page = False

    def update_request(self, request: Request) -> None:
        request.params["starting_after"] = self._cursor


class _PageClient(RESTClient):
    """RESTClient whose page data is one item: the page decoded (once) by `check_list_page`."""

    def extract_response(self, response: Response, data_selector: Any) -> list[Any]:
        return [response.stripe_page]  # type: ignore[attr-defined]


class StripeClient:
    """Pages Stripe lists for one run. Safe to use from several threads."""

    def __init__(self, settings: StripeSettings, progress: RunProgress | None = None) -> None:
        self.settings = settings
        self.progress = progress or RunProgress()
        budget = shared_budget(settings.api_base, settings.api_key, settings.requests_per_second)
        backoff, max_delay = retry_backoff()
        self.http = StripeHttp(budget, self.progress, settings.api_base, backoff, max_delay)
        self.decoder = PageDecoder(settings.page_processes, self.progress)
        self._local = threading.local()

    def _rest(self) -> RESTClient:
        rest = getattr(self._local, "rest", None)
        if rest is None:
            rest = self._local.rest = _PageClient(
                base_url=self.settings.api_base,
                headers={"Stripe-Version": self.settings.api_version},
                auth=BearerTokenAuth(self.settings.api_key),
                session=self.http.session,
            )
        return rest

    def iter_decoded(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        table: str,
        job: PageJob | None = None,
        starting_after: str | None = None,
        paginator: BasePaginator | None = None,
    ) -> Iterator[DecodedPage]:
        """Yield each page decoded (see `PageJob`), following the cursor until `has_more` is
        false."""
        check = partial(check_list_page, decoder=self.decoder, job=job)
        for data in self._rest().paginate(
            path,
            params={"limit": PAGE_LIMIT, **(params or {})},
            data_selector="data",  # known: skips dlt parsing the body again to detect it
            paginator=paginator or StripeCursorPaginator(starting_after),
            hooks={"response": [check]},
        ):
            page: DecodedPage = data[0]
            self.progress.page(table, page.count)
            yield page

    def iter_pages(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        table: str,
        starting_after: str | None = None,
        paginator: BasePaginator | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's objects (dicts), following the cursor until `has_more` is false."""
        for page in self.iter_decoded(
            path, params, table=table, starting_after=starting_after, paginator=paginator
        ):
            yield page.rows or []
