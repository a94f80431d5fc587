"""A small asyncio HTTP/1.1 server (keep-alive, pipelining, TCP_NODELAY) for the sandbox.

Requests on one connection are answered in order; latency is a ``call_later`` so it never
blocks other connections. Uses uvloop when it is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import Callable
from http import HTTPStatus

from .core import Response, Sandbox

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
_REASONS = {s.value: s.phrase for s in HTTPStatus}


def _status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n".encode()


class Request:
    __slots__ = ("body", "headers", "keep_alive", "method", "target")

    def __init__(
        self, method: str, target: str, headers: dict[str, str], body: bytes, keep_alive: bool
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive


class HttpProtocol(asyncio.Protocol):
    """One client connection."""

    def __init__(
        self, sb: Sandbox, loop: asyncio.AbstractEventLoop, conns: set[HttpProtocol] | None = None
    ) -> None:
        self.sb = sb
        self.conns = conns if conns is not None else set()
        self.loop = loop
        self.buf = bytearray()
        self.queue: deque[Request] = deque()
        self.busy = False
        self.closed = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.conns.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.queue.clear()
        self.conns.discard(self)

    def pause_writing(self) -> None:
        if self.transport and not self.closed:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport and not self.closed:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while not self.closed:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self._fail(431)
                return
            try:
                head = bytes(self.buf[:end]).decode("latin-1")
                lines = head.split("\r\n")
                method, target, version = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                clen = int(headers.get("content-length") or 0)
            except ValueError:
                self._fail(400)
                return
            if clen < 0 or clen > MAX_BODY or "chunked" in headers.get("transfer-encoding", ""):
                self._fail(400 if clen <= MAX_BODY else 413)
                return
            total = end + 4 + clen
            if len(self.buf) < total:
                return
            body = bytes(self.buf[end + 4 : total])
            del self.buf[:total]
            conn = headers.get("connection", "").lower()
            keep = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
            self.queue.append(Request(method, target, headers, body, keep))
            self._pump()

    def _fail(self, status: int) -> None:
        if self.transport and not self.closed:
            self.transport.write(
                _status_line(status) + b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            self.transport.close()
        self.closed = True

    def _pump(self) -> None:
        while self.queue and not self.busy and not self.closed:
            req = self.queue.popleft()
            try:
                res = self.sb.handle(req.method, req.target, req.headers, req.body)
            except Exception as exc:  # never kill the connection loop on a handler bug
                res = Response(
                    500,
                    b'{"error":{"type":"api_error","message":"sandbox bug: '
                    + repr(exc).replace('"', "'").encode()[:300]
                    + b'"}}',
                )
            if res.delay > 0:
                self.busy = True
                self.loop.call_later(res.delay, self._finish, req, res)
                return
            self._send(req, res)

    def _finish(self, req: Request, res: Response) -> None:
        self.busy = False
        self._send(req, res)
        self._pump()

    def _send(self, req: Request, res: Response) -> None:
        t = self.transport
        if t is None or self.closed:
            return
        if res.action == "drop":
            t.close()
            self.closed = True
            return
        body = res.body
        head = [
            _status_line(res.status),
            b"Content-Type: application/json\r\n",
            b"Content-Length: ",
            str(len(body)).encode(),
            b"\r\n",
        ]
        for k, v in res.headers:
            head.append(f"{k}: {v}\r\n".encode("latin-1"))
        head.append(
            b"Connection: keep-alive\r\n\r\n" if req.keep_alive else b"Connection: close\r\n\r\n"
        )
        if res.action == "truncate":
            t.write(b"".join(head) + body[: len(body) // 2])
            t.close()
            self.closed = True
            return
        t.writelines((b"".join(head), body))  # uvloop: one writev, the body is not copied
        if not req.keep_alive:
            t.close()
            self.closed = True


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when available (faster), else the default loop."""
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


async def serve(
    sb: Sandbox,
    host: str,
    port: int,
    on_ready: Callable[[str, int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until ``stop`` is set; calls ``on_ready(host, port)`` once listening."""
    loop = asyncio.get_running_loop()
    conns: set[HttpProtocol] = set()
    server = await loop.create_server(
        lambda: HttpProtocol(sb, loop, conns), host, port, reuse_address=True, backlog=1024
    )
    sock = server.sockets[0]
    bound_host, bound_port = sock.getsockname()[:2]
    activity = loop.create_task(_activity(sb))
    if on_ready:
        on_ready(bound_host, bound_port)
    stop = stop or asyncio.Event()
    try:
        await stop.wait()
    finally:
        activity.cancel()
        server.close()
        for conn in list(conns):
            if conn.transport is not None:
                conn.transport.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1.0)


async def _activity(sb: Sandbox, tick: float = 0.1) -> None:
    """Background random mutations at ``sb.activity_per_second``."""
    owed = 0.0
    while True:
        await asyncio.sleep(tick)
        rate = sb.activity_per_second
        if rate <= 0:
            owed = 0.0
            continue
        owed += rate * tick
        n = int(owed)
        owed -= n
        if n:
            with contextlib.suppress(Exception):
                sb.admin.mutate({"random": n})
