"""Stripe-shaped error responses."""

from __future__ import annotations

from typing import Any

import orjson

DOC_BASE = "https://stripe.com/docs/error-codes/"


class ApiError(Exception):
    """An error answered as ``{"error": {...}}`` with an HTTP status, like Stripe does."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or []

    def payload(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = DOC_BASE + self.code.replace("_", "-")
        if self.param:
            err["param"] = self.param
        return {"error": err}

    def body(self) -> bytes:
        return orjson.dumps(self.payload())


def bad_param(param: str, message: str, code: str = "parameter_invalid") -> ApiError:
    return ApiError(400, message, code=code, param=param)


def unknown_param(param: str) -> ApiError:
    return ApiError(
        400, f"Received unknown parameter: {param}", code="parameter_unknown", param=param
    )


def missing(obj: str, obj_id: str, param: str = "id", status: int = 404) -> ApiError:
    return ApiError(status, f"No such {obj}: '{obj_id}'", code="resource_missing", param=param)


def unknown_url(method: str, path: str) -> ApiError:
    return ApiError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
    )


def mask_key(key: str) -> str:
    """Stripe-style masking: keep the ``sk_test_`` style prefix and the last 4 characters."""
    prefix = ""
    parts = key.split("_")
    if len(parts) >= 3 and parts[0] in ("sk", "rk", "pk"):
        prefix = f"{parts[0]}_{parts[1]}_"
    rest = key[len(prefix) :]
    if len(rest) <= 8:
        return prefix + "*" * len(rest)
    return prefix + "*" * (len(rest) - 4) + rest[-4:]


RATE_LIMIT_MESSAGE = (
    "Request rate limit exceeded. You can learn more about rate limits here "
    "https://stripe.com/docs/rate-limits."
)


def rate_limited() -> ApiError:
    return ApiError(429, RATE_LIMIT_MESSAGE, code="rate_limit")


def api_error(status: int) -> ApiError:
    return ApiError(
        status,
        "An unknown error occurred while processing your request (sandbox fault injection).",
        type="api_error",
    )


def lock_timeout() -> ApiError:
    return ApiError(
        409,
        "This object cannot be accessed right now because another API request or Stripe "
        "process is currently accessing it. If you see this error intermittently, retry the "
        "request. If you see this error frequently and are making multiple concurrent "
        "requests to a single object, make your requests serially or at a lower rate.",
        code="lock_timeout",
    )
