"""Stripe API errors with messages that say what to fix. None of them carries the key."""

from __future__ import annotations

from typing import Any

import orjson
from requests import ConnectionError, HTTPError, Response

from stripe_assets.settings import API_BASE_ENV, API_KEY_ENV


class StripeAPIError(HTTPError):
    """An error answer from Stripe, with Stripe's own message and parameter."""

    retryable = False

    def __init__(self, message: str, response: Response | None = None) -> None:
        super().__init__(message, response=response)


class StripeRetryableError(StripeAPIError):
    """5xx, 429 and 409 lock_timeout: worth another attempt."""

    retryable = True


class StripeAuthenticationError(StripeAPIError):
    """401: the key is missing, wrong or revoked."""


class StripePermissionError(StripeAPIError):
    """403: a restricted key lacks the permission for an endpoint."""


class StripeInvalidRequestError(StripeAPIError):
    """400: Stripe refused a parameter."""


class StripeNotFoundError(StripeAPIError):
    """404: the object or path does not exist (for example deleted mid-run)."""


class StripeUnavailableError(ConnectionError):
    """No usable answer (dropped connections, timeouts, truncated bodies) after every retry."""


class MalformedPageError(StripeAPIError):
    """A 200 answer that is not a Stripe list page (bad JSON, no `data` or `has_more`)."""

    retryable = True


_CURSOR_PARAMS = ("starting_after", "ending_before")


def _error_body(response: Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _endpoint(response: Response) -> str:
    return f"{response.request.method} {response.request.path_url.split('?')[0]}"


def error_for(response: Response) -> StripeAPIError:
    """Turn a non-2xx Stripe answer into the exception a user can act on."""
    status = response.status_code
    error = _error_body(response)
    stripe_message = error.get("message") or response.reason or "no message"
    param = error.get("param")
    code = error.get("code")
    endpoint = _endpoint(response)
    request_id = response.headers.get("Request-Id", "")
    suffix = f" (request {request_id})" if request_id else ""
    if status == 401:
        return StripeAuthenticationError(
            f"Stripe rejected the API key on {endpoint} (401). Fix the {API_KEY_ENV} setting "
            f"(environment or .dlt/secrets.toml) for the server at {API_BASE_ENV}.{suffix}",
            response,
        )
    if status == 403:
        return StripePermissionError(
            f"The API key may not read {endpoint} (403): give the restricted key read "
            f"permission for this resource. Stripe said: {stripe_message}{suffix}",
            response,
        )
    if status == 404 or (
        status == 400 and code == "resource_missing" and param not in _CURSOR_PARAMS
    ):
        # 404 for a path (`/v1/invoices/{id}/lines`), 400 for a list filter
        # (`?subscription=`): the object is gone, e.g. deleted while the run was paging.
        return StripeNotFoundError(
            f"{endpoint} not found ({status}): {stripe_message}{suffix}", response
        )
    if status == 400:
        where = f" parameter `{param}`" if param else ""
        return StripeInvalidRequestError(
            f"Stripe refused{where} on {endpoint} (400): {stripe_message}{suffix}", response
        )
    if status == 429 or status >= 500 or (status == 409 and code == "lock_timeout"):
        return StripeRetryableError(
            f"Stripe answered {status} on {endpoint}: {stripe_message}{suffix}", response
        )
    return StripeAPIError(
        f"Stripe answered {status} on {endpoint}: {stripe_message}{suffix}", response
    )
