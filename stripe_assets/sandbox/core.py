"""The sandbox itself: data, clock, auth, stats and the request pipeline (no sockets here)."""

from __future__ import annotations

import base64
import binascii
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .api import Api
from .config import DEFAULT_STRIPE_VERSION, SandboxConfig
from .data import generate
from .errors import ApiError, api_error, lock_timeout, mask_key, rate_limited
from .faults import FaultInjector
from .ids import IdCodec
from .render import account_bytes, install

NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
INVALID_JSON_BODY = b"<html><body><h1>502 Bad Gateway</h1>sandbox invalid_json fault</body></html>"
RETRYABLE = frozenset({409, 429, 500, 502, 503})


@dataclass
class Response:
    """What the HTTP layer sends. ``action`` is None, ``"drop"`` or ``"truncate"``."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0
    action: str | None = None


class Clock:
    """Sandbox time = wall clock + an adjustable offset (only ever moved forward)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def now(self) -> int:
        return int(time.time() + self.offset)

    def advance(self, seconds: float) -> int:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self.offset += seconds
        return self.now()


class Stats:
    """Request counters by path template, status code and fault kind."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0
        self.by_path: dict[str, Counter[str]] = {}
        self.by_status: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.bytes_out = 0
        self.since = time.time()

    def record(self, template: str, status: int, nbytes: int, fault: str | None) -> None:
        self.total += 1
        st = str(status)
        c = self.by_path.get(template)
        if c is None:
            c = self.by_path[template] = Counter()
        c[st] += 1
        c["total"] += 1
        self.by_status[st] += 1
        if fault:
            self.faults[fault] += 1
        self.bytes_out += nbytes

    def snapshot(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_path": {k: dict(v) for k, v in sorted(self.by_path.items())},
            "by_status": dict(sorted(self.by_status.items())),
            "faults": dict(sorted(self.faults.items())),
            "bytes_out": self.bytes_out,
            "since": self.since,
            "seconds": time.time() - self.since,
        }


class Sandbox:
    """Everything but the socket layer: ``handle()`` turns a request into a ``Response``."""

    def __init__(self, cfg: SandboxConfig) -> None:
        from .admin import Admin

        self.cfg = cfg
        t0 = time.perf_counter()
        self.data = generate(cfg)
        install(self.data)
        self.account = account_bytes(self.data)
        self.render_seconds = 0.0
        if cfg.prerender:
            t1 = time.perf_counter()
            for table in self.data.all_tables():
                table.flush()
            self.render_seconds = time.perf_counter() - t1
        self.generation_seconds = time.perf_counter() - t0
        self.clock = Clock(cfg.clock_offset)
        self.stats = Stats()
        self.faults = FaultInjector(cfg)
        self.api = Api(self)
        self.admin = Admin(self)
        self._req_ids = IdCodec(cfg.seed, "req")
        self._req_n = 0
        self.activity_per_second = cfg.activity_per_second

    def retention_floor(self) -> int:
        return self.clock.now() - self.cfg.event_retention_days * 86400

    def request_id(self) -> str:
        self._req_n += 1
        return "req_" + self._req_ids.encode(self._req_n)[5:19]

    def check_auth(self, headers: dict[str, str]) -> str:
        """The request's key (the account's secret key or one of its restricted keys)."""
        raw = headers.get("authorization", "").strip()
        if not raw:
            raise ApiError(401, NO_KEY_MESSAGE)
        scheme, _, cred = raw.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            key = cred.strip()
        elif scheme == "basic":
            try:
                key = base64.b64decode(cred.strip(), validate=True).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                raise ApiError(
                    401, "Invalid Authorization header: malformed Basic credentials."
                ) from None
        else:
            raise ApiError(401, "Invalid Authorization header: use 'Bearer <API key>'.")
        if not key:
            raise ApiError(401, NO_KEY_MESSAGE)
        if key != self.cfg.api_key and key not in self.cfg.restricted_keys:
            raise ApiError(401, f"Invalid API Key provided: {mask_key(key)}")
        return key

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        path, _, query = target.partition("?")
        base = [
            ("Request-Id", self.request_id()),
            ("Stripe-Version", headers.get("stripe-version") or DEFAULT_STRIPE_VERSION),
        ]
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            status, payload = self.admin.handle(method, path, query, body)
            return Response(status, payload, base)
        is_v1 = path.startswith("/v1/")
        decision = self.faults.decide() if is_v1 else None
        fault = decision.fault if decision else None
        delay = decision.delay if decision else 0.0
        extra: list[tuple[str, str]] = []
        try:
            if decision and decision.rate_limited:
                fault = "rate_limit"
                if self.faults.retry_after is not None:
                    extra.append(("Retry-After", f"{self.faults.retry_after:g}"))
                raise rate_limited()
            if fault in ("500", "502", "503"):
                raise api_error(int(fault))  # type: ignore[arg-type]
            if fault == "409":
                raise lock_timeout()
            if fault == "429":
                raise rate_limited()
            key = self.check_auth(headers)
            if not is_v1:
                from .errors import unknown_url

                raise unknown_url(method, path)
            _, payload = self.api.handle(method, path, query, key)
            status = 200
        except ApiError as exc:
            status, payload = exc.status, exc.body()
            extra.extend(exc.headers)
        if is_v1 and status != 200 and self.faults.should_retry_header:
            extra.append(("Stripe-Should-Retry", "true" if status in RETRYABLE else "false"))
        action = None
        if fault in ("drop", "truncate"):
            action = fault
        elif fault == "invalid_json" and status == 200:
            payload = INVALID_JSON_BODY
        elif fault == "missing_fields" and status == 200:
            payload = _strip_fields(payload)
        elif fault in ("invalid_json", "missing_fields"):
            fault = None  # only a 200 can be corrupted this way
        self.stats.record(
            self.api.template_of(path) if is_v1 else "(unmatched)", status, len(payload), fault
        )
        return Response(status, payload, base + extra, delay, action)


def _strip_fields(payload: bytes) -> bytes:
    """A 200 body lacking the fields clients rely on (lists: data/has_more; objects: id)."""
    if payload.startswith(b'{"data":['):
        i = payload.rfind(b',"url":')
        return b'{"object":"list"' + (payload[i:] if i > 0 else b"}")
    import orjson

    obj = orjson.loads(payload)
    return orjson.dumps({"object": obj.get("object")})
