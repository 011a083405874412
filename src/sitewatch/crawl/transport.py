"""A lean HTTP/1.1 transport for httpx: asyncio streams for the sockets, h11 for the protocol.

httpx's default transport (httpcore on anyio) costs several times more CPU per request than the crawl spends on
parsing the page: it polls every pooled socket on each request and takes anyio locks and cancel scopes around
every step. A crawler needs none of that: the politeness limiter already bounds the connections per host, so this
transport keeps a plain stack of idle keep-alive connections per origin and checks one only when it is reused.
Everything above the socket (request building, headers, content decoding) stays httpx's; proxies configured in
the environment are still served by httpx's own transports (``trust_env``).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator

import h11
import httpx

MAX_HEAD = 100 * 1024          # bytes of status line + headers accepted, as httpcore
READ_SIZE = 64 * 1024
KEEPALIVE_EXPIRY = 5.0         # seconds an idle connection is kept
MAX_IDLE_PER_ORIGIN = 32
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})

Origin = tuple[bytes, str, int]


class _Connection:
    __slots__ = ("origin", "reader", "writer", "h11", "idle_since")

    def __init__(self, origin: Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.idle_since = 0.0

    def open(self) -> bool:
        """Neither side has closed the socket (as far as the event loop has seen)."""
        return not self.reader.at_eof() and not self.writer.is_closing()

    def reusable(self) -> bool:
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE and self.open()

    def close(self) -> None:
        self.writer.close()


def _timeout(timeouts: dict, key: str) -> float | None:
    value = timeouts.get(key)
    return None if value is None else float(value)


class AsyncioTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio with per-origin keep-alive. ``verify`` is httpx's (bool, CA path or SSLContext)."""

    def __init__(self, verify: ssl.SSLContext | str | bool = True):
        self._verify = verify
        self._ssl: ssl.SSLContext | None = None
        self._idle: dict[Origin, list[_Connection]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in (b"http", b"https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        origin = (scheme, url.host, url.port or (443 if scheme == b"https" else 80))
        timeouts = request.extensions.get("timeout", {})
        body = [chunk async for chunk in request.stream]
        conn = self._take_idle(origin)
        if conn is not None:
            try:
                return await self._exchange(conn, request, body, timeouts)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                if not getattr(exc, "before_response", False) or request.method.encode() not in IDEMPOTENT:
                    raise
        conn = await self._connect(origin, _timeout(timeouts, "connect"))
        return await self._exchange(conn, request, body, timeouts)

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()

    def _take_idle(self, origin: Origin) -> _Connection | None:
        conns = self._idle.get(origin)
        now = time.monotonic()
        while conns:
            conn = conns.pop()
            if now - conn.idle_since < KEEPALIVE_EXPIRY and conn.open():
                return conn
            conn.close()
        return None

    def _release(self, conn: _Connection) -> None:
        if not conn.reusable():
            conn.close()
            return
        conn.h11.start_next_cycle()
        conns = self._idle.setdefault(conn.origin, [])
        if len(conns) >= MAX_IDLE_PER_ORIGIN:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        conns.append(conn)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = self._verify if isinstance(self._verify, ssl.SSLContext) \
                else httpx.create_ssl_context(verify=self._verify)
        return self._ssl

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        tls = self._ssl_context() if scheme == b"https" else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=tls, server_hostname=host if tls else None, limit=READ_SIZE)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connect to {host}:{port} timed out") from exc
        except OSError as exc:      # refused, DNS (socket.gaierror), TLS (ssl.SSLError), unreachable
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}") from exc
        return _Connection(origin, reader, writer)

    async def _exchange(self, conn: _Connection, request: httpx.Request, body: list[bytes],
                        timeouts: dict) -> httpx.Response:
        try:
            await self._send(conn, request, body, _timeout(timeouts, "write"))
            head = await self._receive_head(conn, _timeout(timeouts, "read"))
        except BaseException:
            conn.close()
            raise
        return httpx.Response(
            head.status_code, headers=head.headers.raw_items(),
            stream=_ResponseStream(self, conn, _timeout(timeouts, "read")),
            extensions={"http_version": b"HTTP/" + head.http_version, "reason_phrase": head.reason},
        )

    async def _send(self, conn: _Connection, request: httpx.Request, body: list[bytes], timeout: float | None) -> None:
        headers = list(request.headers.raw)
        try:
            data = conn.h11.send(h11.Request(method=request.method, target=request.url.raw_path, headers=headers))
            for chunk in body:
                data += conn.h11.send(h11.Data(data=chunk))
            data += conn.h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        try:
            conn.writer.write(data)
            async with asyncio.timeout(timeout):
                await conn.writer.drain()
        except TimeoutError as exc:
            raise httpx.WriteTimeout("request not sent in time") from exc
        except OSError as exc:
            raise _before_response(httpx.WriteError(f"{type(exc).__name__}: {exc}")) from exc

    async def _receive_head(self, conn: _Connection, timeout: float | None) -> h11.Response:
        received = False
        while True:
            try:
                event = await _next_event(conn, timeout)
            except httpx.ReadError as exc:     # reset: a kept-alive connection the server had already dropped
                raise _before_response(exc) if not received else exc
            if isinstance(event, h11.Response):
                return event
            if isinstance(event, h11.InformationalResponse):
                received = True
                continue
            if isinstance(event, _Closed) and not received:
                raise _before_response(httpx.RemoteProtocolError("server disconnected without sending a response"))
            raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} before the response")


class _Closed:
    """The peer closed the connection before a complete event."""


async def _next_event(conn: _Connection, timeout: float | None):
    while True:
        try:
            event = conn.h11.next_event()
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc)) from exc
        if event is not h11.NEED_DATA:
            return _Closed() if event is h11.PAUSED or isinstance(event, h11.ConnectionClosed) else event
        try:
            async with asyncio.timeout(timeout):
                data = await conn.reader.read(READ_SIZE)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("no data from the server in time") from exc
        except OSError as exc:
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}") from exc
        if not data and conn.h11.their_state is h11.SEND_RESPONSE:
            return _Closed()
        try:
            conn.h11.receive_data(data)
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc)) from exc


def _before_response(exc: httpx.TransportError) -> httpx.TransportError:
    exc.before_response = True      # safe to retry an idempotent request on a fresh connection
    return exc


class _ResponseStream(httpx.AsyncByteStream):
    """The body of one response; the connection goes back to the pool once the body has been read."""

    def __init__(self, transport: AsyncioTransport, conn: _Connection, timeout: float | None):
        self._transport = transport
        self._conn: _Connection | None = conn
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        while True:
            try:
                event = await _next_event(conn, self._timeout)
            except BaseException:
                self._discard()
                raise
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._conn = None
                self._transport._release(conn)
                return
            else:
                self._discard()
                raise httpx.RemoteProtocolError("server closed the connection before the end of the body")

    async def aclose(self) -> None:
        """Keep the connection when the rest of the response is already here (HEAD, redirects, short
        bodies), otherwise close it."""
        conn = self._conn
        if conn is None:
            return
        try:
            while True:
                event = conn.h11.next_event()
                if isinstance(event, h11.EndOfMessage):
                    self._conn = None
                    self._transport._release(conn)
                    return
                if not isinstance(event, h11.Data):
                    break
        except h11.RemoteProtocolError:
            pass
        self._discard()

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
