"""A lean HTTP/1.1 transport for httpx: asyncio streams for the sockets, httptools (llhttp, in C) to parse responses.

httpx's default transport (httpcore on anyio) costs several times more CPU per request than the crawl spends on
parsing the page: it polls every pooled socket on each request and takes anyio locks and cancel scopes around
every step. A crawler needs none of that: the politeness limiter already bounds the connections per host, so this
transport keeps a plain stack of idle keep-alive connections per origin and checks one only when it is reused.
The request head is written directly from the httpx request, or, for the crawler's plain normalised URLs, from
the URL string (``plain_request``: byte for byte the same, without httpx's URL parser, ~60 µs a request).
Responses are parsed by llhttp through httptools' callbacks, a fraction of the CPU of a pure-Python parser such
as h11. llhttp knows nothing of the request, so the end of a HEAD response (its head) and of a body delimited by
the server closing the connection are decided here.
Everything above the socket (request building, headers, content decoding) stays httpx's; proxies configured in
the environment are still served by httpx's own transports (``trust_env``).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import AsyncIterator

import httptools
import httpx

MAX_HEAD = 100 * 1024          # bytes of status line + headers accepted, as httpcore
READ_SIZE = 64 * 1024
KEEPALIVE_EXPIRY = 5.0         # seconds an idle connection is kept
MAX_IDLE_PER_ORIGIN = 32
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# llhttp is stricter than browsers (and h11): accept bare LF line ends, obs-folded or odd header values, a chunked
# body that also names a Content-Length, spaces after a chunk size and any HTTP/1.x version number
LENIENCIES = {"lenient_optional_cr_before_lf": True, "lenient_headers": True, "lenient_chunked_length": True,
              "lenient_spaces_after_chunk_size": True, "lenient_version": True}
HTTP_VERSIONS = {"1.1": b"HTTP/1.1", "1.0": b"HTTP/1.0"}

Origin = tuple[bytes, str, int]


class _Connection:
    """One connection, and the httptools callbacks collecting the response being read on it."""

    __slots__ = ("origin", "reader", "writer", "idle_since", "parser", "head_request", "status", "reason",
                 "headers", "informational", "head_done", "done", "keep_alive", "extra", "body", "error")

    def __init__(self, origin: Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0
        self.parser: httptools.HttpResponseParser | None = None
        self.head_request = False

    def start(self, head_request: bool) -> None:
        """Ready to read the response to the request just sent."""
        if self.parser is None or self.head_request:
            # a fresh parser: llhttp, unaware of HEAD, may still be waiting for the body of the last head
            self.parser = httptools.HttpResponseParser(self)
            self.parser.set_dangerous_leniencies(**LENIENCIES)
        self.head_request = head_request
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.informational = False      # a 1xx response came first
        self.head_done = False
        self.done = False               # the whole response has been parsed
        self.keep_alive = False
        self.extra = False              # bytes after the end of the response: the connection is not reused
        self.body: list[bytes] = []     # parsed, not yet handed out
        self.error: httpx.RemoteProtocolError | None = None

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self.done:
            self.extra = True

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.head_done:          # after the head: chunked trailers, dropped as by h11
            self.headers.append((name, value.rstrip(b" \t")))

    def on_headers_complete(self) -> None:
        parser = self.parser
        status = parser.get_status_code()
        if status < 200:
            if status == 101:
                raise httpx.RemoteProtocolError("unexpected 101 Switching Protocols")
            self.informational = True   # 100 Continue, 103 Early Hints: no body, the response follows
            self.reason = b""
            self.headers = []
            return
        self.status = status
        self.head_done = True
        if self.head_request:           # llhttp would read a body the Content-Length announces: there is none
            self.done = True
            self.keep_alive = _persistent(parser.get_http_version(), self.headers)
        else:
            self.keep_alive = parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        if self.done:
            self.extra = True
        else:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.head_done:              # else the end of a 1xx
            self.done = True

    # reading

    def feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if self.done:               # e.g. data after `Connection: close`
                self.extra = True
            elif self.error is None:
                context = exc.__context__
                self.error = context if isinstance(context, httpx.RemoteProtocolError) \
                    else httpx.RemoteProtocolError(f"malformed response: {exc}")
                self.error.__cause__ = exc

    def eof(self) -> None:
        """The server closed the connection: the end of a body delimited by the close, or a truncated response."""
        if self.done or self.error is not None:
            return
        if self.head_done and _until_eof(self.headers):
            self.done = True
            self.keep_alive = False
        else:
            self.error = httpx.RemoteProtocolError("server closed the connection before the end of the body")

    def open(self) -> bool:
        """Neither side has closed the socket (as far as the event loop has seen)."""
        return not self.reader.at_eof() and not self.writer.is_closing()

    def reusable(self) -> bool:
        return self.done and self.keep_alive and not self.extra and self.error is None and self.open()

    def close(self) -> None:
        self.writer.close()
        self.parser = None              # the parser holds our callbacks: no reference cycle left behind


def _persistent(version: str, headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the connection stays open after a response with these headers (RFC 9112 9.3)."""
    connection = b",".join([v for n, v in headers if n.lower() == b"connection"]).lower()
    return b"close" not in connection if version == "1.1" else b"keep-alive" in connection


def _until_eof(headers: list[tuple[bytes, bytes]]) -> bool:
    """The body is delimited by the end of the connection: no Content-Length, not chunked (RFC 9112 6.3)."""
    te = [v for n, v in headers if n.lower() == b"transfer-encoding"]
    if te:
        return not te[-1].rstrip().lower().endswith(b"chunked")
    return not any(n.lower() == b"content-length" for n, _ in headers)


_HEAD_END = re.compile(rb"\r?\n\r?\n")


def _merge_content_lengths(raw: bytes) -> bytes | None:
    """``raw`` with its head's Content-Length lines, all of one value, made one line; None when the head is not
    all there (or starts with a 1xx response), or has no such repetition."""
    end = _HEAD_END.search(raw)
    if end is None or raw[9:10] == b"1":
        return None
    eol = b"\r\n" if raw[:raw.find(b"\n")].endswith(b"\r") else b"\n"       # as the status line's
    lines = [line.rstrip(b"\r") for line in raw[:end.start()].split(b"\n")]    # the last one's end is in the rest
    values: list[bytes] = []
    first = -1
    for i, line in enumerate(lines):
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"content-length":
            values += [v.strip() for v in value.split(b",")]
            first = i if first < 0 else first
            lines[i] = b""
    if len(values) < 2 or len(set(values)) != 1:
        return None
    lines[first] = b"Content-Length: " + values[0]
    return eol.join([line for line in lines if line]) + raw[end.start():]


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    """The request as h11 wrote it: the request line, the request's headers (Host always, Content-Length
    for a body whose length is known) and the body, chunked when the request says so."""
    url = request.url
    headers = request.headers.raw
    names = [name.lower() for name, _ in headers]
    if b"host" not in names:
        headers.insert(0, (b"Host", url.netloc))
    if b"transfer-encoding" in names:       # httpx's header for a streamed body: sent as one chunk
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    elif body and b"content-length" not in names:
        headers.append((b"Content-Length", b"%d" % len(body)))
    head = b"%s %s HTTP/1.1\r\n%s\r\n" % (request.method.encode("ascii"), url.raw_path,
                                          b"".join([b"%s: %s\r\n" % h for h in headers]))
    lines = len(headers) + 2
    if head.count(b"\n") != lines or head.count(b"\r") != lines:
        raise httpx.LocalProtocolError("line break inside the request line or a header")
    return head + body


_PLAIN_URL = re.compile(   # characters httpx's URL parser keeps as they are; no user info, IPv6 or IDN host
    r"(https?)://([a-z0-9.\-]+)(?::(\d{1,5}))?((?:/(?:[\w\-.~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)*)"
    r"(\?(?:[\w\-.~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?", re.ASCII)


def plain_request(method: str, url: str, header_lines: bytes) -> tuple[Origin, bytes] | None:
    """(origin, request bytes) of a bodiless request to a plain http(s) URL (lower-case ASCII host, printable
    ASCII path, as sitewatch normalises them), as ``_request_bytes`` writes it for the ``httpx.Request`` with the
    same URL and headers: Host first, then ``header_lines`` (each ``name: value\\r\\n``). None for any other
    URL (user info, IPv6, IDN, spaces ...): those go through httpx.Request and its URL parser."""
    m = _PLAIN_URL.fullmatch(url)
    if m is None or "/." in m[4]:                # httpx would remove dot segments
        return None
    scheme, host, port, path, query = m.groups()
    default = 443 if scheme == "https" else 80
    port_no = int(port) if port else default
    if not 0 < port_no <= 65535:
        return None
    netloc = host if port_no == default else f"{host}:{port_no}"
    data = f"{method} {path or '/'}{query or ''} HTTP/1.1\r\nHost: {netloc}\r\n".encode("ascii") + header_lines + b"\r\n"
    return (scheme.encode("ascii"), host, port_no), data


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
        origin = (scheme, url.raw_host.decode("ascii"), url.port or (443 if scheme == b"https" else 80))
        try:
            body = request.content                  # httpx has read every body but a streamed one
        except httpx.RequestNotRead:
            body = b"".join([chunk async for chunk in request.stream])
        return await self.roundtrip(origin, request.method, _request_bytes(request, body),
                                    request.extensions.get("timeout", {}))

    async def roundtrip(self, origin: Origin, method: str, data: bytes, timeouts: dict) -> httpx.Response:
        """Send the request ``data`` (see :func:`plain_request`) on a kept-alive or new connection to ``origin``."""
        conn = self._take_idle(origin)
        if conn is not None:
            try:
                return await self._exchange(conn, method, data, timeouts)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                if not getattr(exc, "before_response", False) or method not in IDEMPOTENT:
                    raise
        conn = await self._connect(origin, _timeout(timeouts, "connect"))
        return await self._exchange(conn, method, data, timeouts)

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

    async def _exchange(self, conn: _Connection, method: str, data: bytes, timeouts: dict) -> httpx.Response:
        read_timeout = _timeout(timeouts, "read")
        try:
            await self._send(conn, data, _timeout(timeouts, "write"))
            await self._receive_head(conn, method == "HEAD", read_timeout)
        except BaseException:
            conn.close()
            raise
        version = conn.parser.get_http_version()
        return httpx.Response(
            conn.status, headers=conn.headers, stream=_ResponseStream(self, conn, read_timeout),
            extensions={"http_version": HTTP_VERSIONS.get(version) or b"HTTP/" + version.encode(),
                        "reason_phrase": conn.reason},
        )

    async def _send(self, conn: _Connection, data: bytes, timeout: float | None) -> None:
        writer = conn.writer
        try:
            writer.write(data)
            if not writer.transport.get_write_buffer_size():
                return      # all in the socket (a dead peer shows on the read, as a retryable disconnect)
            async with asyncio.timeout(timeout):
                await writer.drain()
        except TimeoutError as exc:
            raise httpx.WriteTimeout("request not sent in time") from exc
        except OSError as exc:
            raise _before_response(httpx.WriteError(f"{type(exc).__name__}: {exc}")) from exc

    async def _receive_head(self, conn: _Connection, head_request: bool, timeout: float | None) -> None:
        conn.start(head_request)
        received: list[bytes] = []
        size = 0
        while True:
            try:
                data = await _read(conn, timeout)
            except httpx.ReadError as exc:     # reset: a kept-alive connection the server had already dropped
                raise _before_response(exc) if not conn.informational else exc
            if not data:
                if conn.informational:
                    raise httpx.RemoteProtocolError("server disconnected after an informational response")
                raise _before_response(httpx.RemoteProtocolError("server disconnected without sending a response"))
            received.append(data)
            conn.feed(data)
            if conn.head_done:                  # an error in the body, if any, is raised when the body is read
                return
            if conn.error is not None:
                return await self._reparse_merged_lengths(conn, received, head_request, timeout)
            size += len(data)
            if size > MAX_HEAD:
                raise httpx.RemoteProtocolError(f"response head larger than {MAX_HEAD} bytes")

    async def _reparse_merged_lengths(self, conn: _Connection, received: list[bytes], head_request: bool,
                                      timeout: float | None) -> None:
        """llhttp refuses a head with the same Content-Length twice (or as a list, ``2, 2``), which h11 and browsers
        accept (RFC 9110 8.6): read the rest of such a head and parse it again with one Content-Length."""
        error = conn.error
        if "content-length" not in str(error.__cause__).lower():
            raise error
        raw = b"".join(received)
        while (merged := _merge_content_lengths(raw)) is None:
            if _HEAD_END.search(raw) or len(raw) > MAX_HEAD:
                raise error                     # a whole head, and not that case
            data = await _read(conn, timeout)
            if not data:
                raise error
            raw += data
        conn.parser = None
        conn.start(head_request)
        conn.feed(merged)
        if not conn.head_done:
            raise conn.error or error


async def _read(conn: _Connection, timeout: float | None) -> bytes:
    try:
        async with asyncio.timeout(timeout):
            return await conn.reader.read(READ_SIZE)
    except TimeoutError as exc:
        raise httpx.ReadTimeout("no data from the server in time") from exc
    except OSError as exc:
        raise httpx.ReadError(f"{type(exc).__name__}: {exc}") from exc


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
        while conn is not None:
            if conn.body:
                body = conn.body
                conn.body = []
                yield body[0] if len(body) == 1 else b"".join(body)
                if self._conn is not conn:      # closed while the caller had the chunk
                    return
            if conn.error is not None:
                self._discard()
                raise conn.error
            if conn.done:
                self._conn = None
                self._transport._release(conn)
                return
            try:
                data = await _read(conn, self._timeout)
            except BaseException:
                self._discard()
                raise
            if data:
                conn.feed(data)
            else:
                conn.eof()

    async def aclose(self) -> None:
        """Keep the connection when the rest of the response is already here (HEAD, redirects, short
        bodies), otherwise close it."""
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        if conn.done:
            self._transport._release(conn)
        else:
            conn.close()

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
