"""HTTP fetching with the politeness rules, retries, 429 handling, HEAD→GET fallback and redirect tracking."""

from __future__ import annotations

import asyncio
import email.utils
import errno
import functools
import ssl
import sys
import time
import urllib.request
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import brotli

from sitewatch.crawl.netpolicy import BLOCKED_REASON, BlockedAddress, NetPolicy, policy_resolver
from sitewatch.crawl.politeness import Politeness
from sitewatch.defaults import DEFAULT_RETRIES, DEFAULT_TIMEOUT, DEFAULT_USER_AGENT
from sitewatch.urls import host_key, malformed, normalize

if TYPE_CHECKING:
    import aiohttp
    from aiohttp.client_proto import ResponseHandler
    from aiohttp.client_reqrep import ConnectionKey

MAX_REDIRECTS = 10
MAX_RETRY_AFTER = 30.0         # a longer Retry-After is reported as rate limiting, not waited for
MAX_BODY = 4 * 1024 * 1024     # bytes of an HTML page kept for parsing
PROBE_BODY = 256 * 1024        # bytes of a checked (not crawled) HTML target kept for soft-404 detection
RESERVED_TLDS = (".invalid", ".test", ".example", ".localhost.invalid")   # RFC 6761: never resolve
TRANSIENT_STATUS = frozenset({500, 502, 503, 504, 520, 521, 522, 523, 524})
OVERLOAD_STATUS = frozenset({429, 503, 504})   # the server asks for less: adaptive politeness backs off
HEAD_REFUSED_FALLBACK = True   # any HEAD error status is re-checked with GET (servers often mishandle HEAD)
MAX_CONNECTIONS = 128          # open connections in total (the crawl runs at most 128 requests at once)
MAX_IDLE_ORIGINS = 48          # origins whose idle keep-alive connections are kept; the least recently used go first
KEEPALIVE_EXPIRY = 5.0         # seconds an idle connection is kept
HAPPY_EYEBALLS_DELAY = 0.25    # RFC 8305: start the next address after 250 ms without an answer
READ_CHUNK = 64 * 1024


@dataclass(slots=True)
class FetchResult:
    """What one URL answered, after redirects and retries."""

    url: str
    method: str = "GET"
    status: int | None = None
    final_url: str = ""
    chain: list[tuple[str, int]] = field(default_factory=list)   # each redirect hop: (url, status)
    content_type: str = ""
    body: bytes | None = None
    error: str | None = None        # timeout, refused, dns, tls, connect, loop, too_many_redirects, bad_redirect, read,
                                    # blocked_address (the network policy refused it: nothing was sent)
    detail: str = ""
    elapsed: float = 0.0
    attempts: int = 0
    retry_after: float | None = None
    truncated: bool = False         # the body was cut at the fetch's body limit (counted in decoded bytes)
    etag: str | None = None         # the answer's validators (ETag, Last-Modified), for a conditional request next scan
    last_modified: str | None = None

    @property
    def is_html(self) -> bool:
        ct = self.content_type.lower()
        return ("html" in ct or "wml" in ct
                or (not ct and self.body is not None and b"<html" in self.body[:2048].lower()))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _classify_error(exc: BaseException) -> tuple[str, str]:
    text = f"{type(exc).__name__}: {exc}"
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:      # a refusal by the network policy, however wrapped
        seen.add(id(cause))
        if isinstance(cause, BlockedAddress):
            return BLOCKED_REASON, str(cause)
        cause = getattr(cause, "os_error", None) or cause.__cause__ or cause.__context__
    httpx = sys.modules.get("httpx")         # loaded only when a proxy was used (see Fetcher._via)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or (httpx and isinstance(exc, httpx.TimeoutException)):
        return "timeout", text
    if isinstance(exc, _DecodeError):
        return "read", text
    seen.clear()
    cause = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLError) or type(cause).__name__ in ("ClientConnectorCertificateError",
                                                                       "ClientConnectorSSLError", "ClientSSLError"):
            return "tls", text
        if type(cause).__name__ == "ClientConnectorDNSError":
            return "dns", text
        os_error = getattr(cause, "os_error", None)
        if os_error is not None:    # aiohttp's wrapper ("... ssl:default [...]"): its cause
            cause = os_error
            continue
        msg = str(cause).lower()
        if "name or service not known" in msg or "nodename nor servname" in msg or "getaddrinfo" in msg \
                or "name resolution" in msg or "no address associated" in msg:
            return "dns", text
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED \
                or "connection refused" in msg or "errno 111" in msg:
            return "refused", text
        if "certificate" in msg or "ssl" in msg:
            return "tls", text
        cause = getattr(cause, "os_error", None) or cause.__cause__ or cause.__context__
    name = type(exc).__name__
    if (httpx and isinstance(exc, httpx.ConnectError)) \
            or name in ("ClientConnectorError", "ClientProxyConnectionError"):
        return "connect", text
    if isinstance(exc, ConnectionError) or (httpx and isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError))) \
            or name in ("ServerDisconnectedError", "ClientPayloadError", "ClientResponseError", "ClientOSError"):
        return "read", text
    return "connect", text


@functools.lru_cache(maxsize=8)
def tls_context(verify: bool = True, ca_bundle: str | None = None) -> ssl.SSLContext:
    """The TLS settings of a site: the CA bundle named in its config, else certifi's;
    ``verify=False`` accepts any certificate."""
    if not verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    import certifi  # lazy: an http-only site never needs a CA bundle

    return ssl.create_default_context(cafile=certifi.where())


def proxy_for(url: str, config_proxy: str | None = None, env: dict[str, str] | None = None) -> str | None:
    """The proxy a request to ``url`` goes through: ``[network] proxy`` if set, else the environment's
    (HTTP_PROXY / HTTPS_PROXY / ALL_PROXY, socks5:// included); NO_PROXY exempts hosts from either.
    ``env``: the environment's proxies, read once by the caller (``urllib.request.getproxies()``)."""
    env = urllib.request.getproxies() if env is None else env
    if not env and not config_proxy:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if env.get("no") and urllib.request.proxy_bypass_environment(host, env):  # type: ignore[attr-defined]  # not in typeshed
        return None
    if config_proxy:
        return config_proxy
    return env.get(parts.scheme) or env.get("all") or None


class _DecodeError(Exception):
    """The body's Content-Encoding could not be decoded."""


class BoundedDecoder:
    """Streamed Content-Encoding decoding (gzip, deflate, br) whose output never exceeds the bytes still wanted:
    a compression bomb costs at most the body cap. ``identity``, unknown and stacked codings (``gzip, gzip``,
    which no server sends to a client that did not ask for them) pass through undecoded."""

    def __init__(self, coding: str):
        codings = [c.strip().lower() for c in coding.split(",") if c.strip() and c.strip().lower() != "identity"]
        self.codings = codings if len(codings) == 1 and codings[0] in _CODINGS else []
        self._z: list[Any] = [self._new(c) for c in self.codings]

    @staticmethod
    def _new(coding: str) -> Any:
        if coding in ("gzip", "x-gzip"):
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        if coding == "deflate":
            return None                 # zlib-wrapped or raw: decided on the first bytes
        return brotli.Decompressor()

    def feed(self, data: bytes, limit: int) -> bytes:
        """At most ``limit`` decoded bytes of ``data`` (what is beyond the limit is not decoded at all)."""
        for i, coding in enumerate(self.codings):
            data = self._step(i, coding, data, limit)
        return data

    def _step(self, i: int, coding: str, data: bytes, cap: int) -> bytes:
        try:
            if coding == "deflate" and self._z[i] is None:
                raw = not (len(data) >= 2 and (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0)
                self._z[i] = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
            z = self._z[i]
            if coding in ("gzip", "x-gzip", "deflate"):
                return z.decompress(data, cap) if cap > 0 else b""
            out = z.process(data, output_buffer_limit=cap) if cap > 0 else b""
            return out[:cap]
        except Exception as exc:  # noqa: BLE001 - zlib.error, brotli.error
            raise _DecodeError(f"{coding} body could not be decoded: {exc}") from exc


_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "br"})
ACCEPT_ENCODING = "gzip, deflate, br"


def _idle_capped_connector(**kwargs: Any) -> aiohttp.TCPConnector:
    """aiohttp's connector with a cap on the origins that keep idle connections: aiohttp counts only busy
    connections against ``limit`` and keeps idle ones until they expire, so a scan checking links to 1,500
    sites within the keep-alive time would hold 1,500 sockets (the default descriptor limit is 1,024)."""
    import aiohttp  # lazy: heavy dependency, loaded with the first direct request

    class IdleCappedConnector(aiohttp.TCPConnector):
        def _release(self, key: ConnectionKey, protocol: ResponseHandler, *, should_close: bool = False) -> None:
            super()._release(key, protocol, should_close=should_close)
            conns = getattr(self, "_conns", None)
            if not isinstance(conns, dict):
                return
            if key in conns:                       # most recently used last
                conns[key] = conns.pop(key)
            while len(conns) > MAX_IDLE_ORIGINS:
                for proto, _ in conns.pop(next(iter(conns))):
                    proto.close()

    return IdleCappedConnector(**kwargs)


class Fetcher:
    """Fetches URLs host by host within the politeness limits and the network policy.

    Direct requests go through one aiohttp session (its C parser, Happy Eyeballs across the addresses the policy
    resolver kept, idle connections expired and capped); requests that the environment or ``[network] proxy``
    send through a proxy go through httpx clients (HTTP and SOCKS5 proxies), one per proxy."""

    def __init__(self, politeness: Politeness, timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
                 user_agent: str = DEFAULT_USER_AGENT, verify_tls: bool = True, *, policy: NetPolicy | None = None,
                 proxy: str | None = None, ca_bundle: str | None = None, rate_limit_waits: int = 3):
        self.politeness = politeness
        self.rate_limit_waits = rate_limit_waits    # 429 answers waited out (Retry-After) before one is the verdict
        self.timeout = timeout
        self.retries = retries
        self.requests = 0
        self.bytes_received = 0     # body bytes as they came over the wire (compressed ones before decoding)
        self.policy = policy if policy is not None else NetPolicy()
        self.proxy = proxy
        self._env_proxies = urllib.request.getproxies()     # read once: the environment of this scan
        self._verify_tls, self._ca_bundle = verify_tls, ca_bundle
        # a configured CA bundle is read (and a bad one refused) at once; certifi's waits for the first https URL
        self._tls_context = tls_context(verify_tls, ca_bundle) if ca_bundle else None
        self._headers = {"User-Agent": user_agent, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
                         "Accept-Language": "zh-CN,zh;q=0.9", "Accept-Encoding": ACCEPT_ENCODING}
        self._session: Any = None
        self._host_checks: dict[str, str | None] = {}
        self._proxied: dict[str, Any] = {}                  # proxy URL -> httpx.AsyncClient

    def _direct(self) -> Any:
        if self._session is None:
            import aiohttp  # lazy: heavy dependency, loaded with the first direct request

            connector = _idle_capped_connector(       # TLS settings go with each https request (``_request``)
                limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_EXPIRY,
                resolver=policy_resolver(self.policy), happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, headers=self._headers, skip_auto_headers=("Accept",),
                cookie_jar=aiohttp.CookieJar(unsafe=True), trust_env=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=self.timeout))
        return self._session

    @property
    def _tls(self) -> ssl.SSLContext:
        """The site's TLS settings, made when first needed: loading a CA bundle costs ~1 MB of memory."""
        if self._tls_context is None:
            self._tls_context = tls_context(self._verify_tls, self._ca_bundle)
        return self._tls_context

    def _via(self, proxy: str) -> Any:
        """The httpx client of ``proxy`` (httpx is imported here: ~10 MB that a scan without a proxy never needs)."""
        client = self._proxied.get(proxy)
        if client is None:
            import httpx

            client = self._proxied[proxy] = httpx.AsyncClient(
                proxy=proxy, trust_env=False, verify=self._tls, follow_redirects=False,
                timeout=httpx.Timeout(self.timeout), headers=self._headers,
                limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=32,
                                    keepalive_expiry=KEEPALIVE_EXPIRY))
        return client

    async def aclose(self) -> None:
        for client in self._proxied.values():
            await client.aclose()
        self._proxied.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def text(self, url: str) -> tuple[int, str]:
        """Small helper for robots.txt and similar: (status, text), following redirects."""
        r = await self.fetch(url, body_limit=512 * 1024, obey_robots=False)
        if r.error or r.status is None:
            raise OSError(r.error or "no response")
        return r.status, (r.body or b"").decode("utf-8", "replace")

    async def fetch(self, url: str, *, head_first: bool = False, body_limit: int = MAX_BODY,
                    obey_robots: bool = True, validators: dict[str, str] | None = None) -> FetchResult:
        """Fetch ``url`` following redirects by hand so that the chain is recorded and loops are caught.
        ``validators``: conditional request headers (If-None-Match, If-Modified-Since), sent to ``url`` only (not
        to a redirect's target); an answer 304 Not Modified then has no body."""
        started = time.monotonic()
        result = FetchResult(url=url, method="HEAD" if head_first else "GET")
        why = malformed(url)
        if why is not None:
            result.error, result.detail = "invalid_url", f"malformed URL: {why}"
            return result
        if obey_robots and not await self.politeness.allowed(url, self.text):
            result.error = "robots"
            result.detail = self.politeness.why_disallowed(url)
            return result
        current = url
        visited = {url}
        headers = validators
        for _ in range(MAX_REDIRECTS + 1):
            hop = await self._request_with_retries(current, result.method, body_limit, headers)
            headers = None
            if hop.status in (400, 403, 404, 405, 406, 500, 501, 503) and result.method == "HEAD" \
                    and HEAD_REFUSED_FALLBACK:
                result.method = "GET"
                hop = await self._request_with_retries(current, "GET", body_limit)
            result.attempts += hop.attempts
            if hop.error:
                result.error, result.detail = hop.error, hop.detail
                break
            result.status = hop.status
            result.content_type = hop.content_type
            result.retry_after = hop.retry_after
            result.etag, result.last_modified = hop.etag, hop.last_modified
            location = (hop.detail or None) if hop.status in (301, 302, 303, 307, 308) else None
            if location is None:
                result.body, result.truncated = hop.body, hop.truncated
                break
            result.chain.append((current, hop.status or 0))
            nxt = normalize(location, current)
            if nxt is None or malformed(nxt):
                result.error, result.detail = "bad_redirect", f"redirect to unsupported URL {location[:200]}"
                break
            if nxt in visited:
                result.error, result.detail = "loop", f"redirect loop back to {nxt}"
                break
            if obey_robots and urlsplit(nxt).netloc != urlsplit(current).netloc \
                    and not await self.politeness.allowed(nxt, self.text):
                result.error, result.detail = "robots", "redirect target disallowed by robots.txt"
                break
            visited.add(nxt)
            current = nxt
            if hop.status == 303 and result.method != "HEAD":
                result.method = "GET"
        else:
            result.error, result.detail = "too_many_redirects", f"more than {MAX_REDIRECTS} redirects"
        result.final_url = current
        result.elapsed = time.monotonic() - started
        return result

    async def _request_with_retries(self, url: str, method: str, body_limit: int,
                                    headers: dict[str, str] | None = None) -> FetchResult:
        host = urlsplit(url).hostname or ""
        if host.endswith(RESERVED_TLDS):
            return FetchResult(url=url, method=method, error="dns", detail=f"{host}: reserved name, never resolves",
                               attempts=0)
        limiter = self.politeness.limiter(host_key(url))
        if proxy_for(url, self.proxy, self._env_proxies) is None:
            self._direct()      # the first request's imports and session are set up outside the host's slot
        attempts = 0
        rate_waits = 0
        timeouts = 0
        while True:
            attempts += 1
            async with limiter.slot():
                sent = time.monotonic()
                hop = await self._request(url, method, body_limit, headers)
            hop.attempts = attempts
            if hop.error != BLOCKED_REASON:         # (nothing was sent: nothing to learn)
                limiter.record(sent, overloaded=hop.status in OVERLOAD_STATUS, timed_out=hop.error == "timeout",
                               fast=hop.error is None and hop.status is not None and hop.status < 500
                               and hop.status != 429 and time.monotonic() - sent < self.timeout / 2)
            if hop.status == 429:
                wait = hop.retry_after if hop.retry_after is not None else 2.0 ** rate_waits
                if wait <= MAX_RETRY_AFTER and rate_waits < self.rate_limit_waits:
                    rate_waits += 1
                    limiter.slow_down(wait)
                    await asyncio.sleep(wait)
                    continue
                return hop
            transient = hop.status in TRANSIENT_STATUS or hop.error in ("connect", "read", "timeout")
            if hop.error == "timeout":
                timeouts += 1
                transient = timeouts <= 1          # a second timeout is a verdict, not bad luck
            if hop.status == 503 and hop.retry_after is not None and hop.retry_after <= MAX_RETRY_AFTER:
                limiter.slow_down(hop.retry_after)      # the whole host, as after a 429 (RFC 9110 section 10.2.3)
            if transient and attempts <= self.retries:
                await asyncio.sleep(0.25 * 2 ** (attempts - 1))
                continue
            return hop

    def blocked(self, url: str) -> str | None:
        """Why the network policy refuses ``url`` before any lookup (literal addresses, localhost, metadata
        names), or None. Names are checked again on the addresses they resolve to, where they are resolved."""
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return None
        try:
            return self._host_checks[host]
        except KeyError:
            why = self._host_checks[host] = self.policy.check_host(host)
            return why

    async def _request(self, url: str, method: str, body_limit: int,
                       headers: dict[str, str] | None = None) -> FetchResult:
        out = FetchResult(url=url, method=method)
        why = self.blocked(url)
        if why is not None:
            out.error, out.detail = BLOCKED_REASON, f"{why} (network policy; nothing was sent)"
            return out
        self.requests += 1
        proxy = proxy_for(url, self.proxy, self._env_proxies)
        try:
            async with asyncio.timeout(self.timeout):
                if proxy is None:
                    import yarl  # lazy: aiohttp's URL type, loaded with aiohttp

                    async with self._direct().request(method, yarl.URL(url, encoded=True), headers=headers,
                                                      allow_redirects=False,
                                                      ssl=self._tls if url[:6].lower() == "https:" else True) as resp:
                        await self._read(out, resp.status, resp.headers, method, body_limit,
                                         self._counted(resp.content.iter_chunked(READ_CHUNK)), resp.close)
                else:
                    client = self._via(proxy)
                    resp = await client.send(client.build_request(method, url, headers=headers), stream=True)
                    try:
                        await self._read(out, resp.status_code, resp.headers, method, body_limit,
                                         self._counted(resp.aiter_raw(READ_CHUNK)), None)
                    finally:
                        await resp.aclose()
        except Exception as exc:  # noqa: BLE001 - every transport failure becomes a verdict
            out.status = None
            out.body = None
            out.error, out.detail = _classify_error(exc)
        return out

    async def _counted(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``chunks``, their bytes counted in ``bytes_received`` (as sent: before any content decoding)."""
        async for chunk in chunks:
            self.bytes_received += len(chunk)
            yield chunk

    @staticmethod
    async def _read(out: FetchResult, status: int, headers: Any, method: str, body_limit: int,
                    chunks: AsyncIterator[bytes], close: Any) -> None:
        """Status, the headers the crawl uses and up to ``body_limit`` decoded bytes of the body."""
        out.status = status
        out.content_type = headers.get("content-type", "")
        out.etag, out.last_modified = headers.get("etag"), headers.get("last-modified")
        if status in (301, 302, 303, 307, 308):
            out.detail = headers.get("location", "")
            return
        if status in (429, 503):
            out.retry_after = _retry_after(headers.get("retry-after"))
        if method != "GET" or body_limit <= 0:
            return
        decoder = BoundedDecoder(headers.get("content-encoding", ""))
        parts: list[bytes] = []
        size = 0
        async for raw in chunks:
            data = decoder.feed(raw, body_limit - size) if decoder.codings else raw
            parts.append(data)
            size += len(data)
            if size >= body_limit:          # decoded bytes: a compression bomb stops here too
                out.truncated = True
                if close is not None:
                    close()                 # the rest is not read: the connection cannot be reused
                break
        out.body = b"".join(parts)[:body_limit]
