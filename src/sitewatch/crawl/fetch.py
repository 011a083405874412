"""HTTP fetching with the politeness rules, retries, 429 handling, HEAD→GET fallback and redirect tracking."""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import time
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from sitewatch import __version__
from sitewatch.crawl.politeness import Politeness
from sitewatch.crawl.transport import AsyncioTransport, plain_request
from sitewatch.urls import host_key, malformed, normalize

DEFAULT_TIMEOUT = 15.0         # seconds; the national availability rule counts a page not loaded in 15 s as down
DEFAULT_RETRIES = 2            # extra attempts after a transient failure (5xx, connection reset, timeout once)
MAX_REDIRECTS = 10
MAX_RETRY_AFTER = 30.0         # a longer Retry-After is reported as rate limiting, not waited for
MAX_BODY = 4 * 1024 * 1024     # bytes of an HTML page kept for parsing
PROBE_BODY = 256 * 1024        # bytes of a checked (not crawled) HTML target kept for soft-404 detection
DEFAULT_USER_AGENT = f"Mozilla/5.0 (compatible; sitewatch/{__version__}; government website self-check)"
RESERVED_TLDS = (".invalid", ".test", ".example", ".localhost.invalid")   # RFC 6761: never resolve
TRANSIENT_STATUS = frozenset({500, 502, 503, 504, 520, 521, 522, 523, 524})
HEAD_REFUSED_FALLBACK = True   # any HEAD error status is re-checked with GET (servers often mishandle HEAD)


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
    error: str | None = None        # timeout, refused, dns, tls, connect, loop, too_many_redirects, bad_redirect, read
    detail: str = ""
    elapsed: float = 0.0
    attempts: int = 0
    retry_after: float | None = None
    truncated: bool = False         # the body was cut at the fetch's body limit

    @property
    def is_html(self) -> bool:
        ct = self.content_type.lower()
        return "html" in ct or "wml" in ct or (not ct and self.body is not None and b"<html" in self.body[:2048].lower())


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


def _classify_error(exc: Exception) -> tuple[str, str]:
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, (httpx.TimeoutException, asyncio.TimeoutError, TimeoutError)):
        return "timeout", text
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return "tls", text
        msg = str(cause).lower()
        if "name or service not known" in msg or "nodename nor servname" in msg or "getaddrinfo" in msg \
                or "name resolution" in msg or "no address associated" in msg:
            return "dns", text
        if isinstance(cause, ConnectionRefusedError) or "connection refused" in msg or "errno 111" in msg:
            return "refused", text
        if "certificate" in msg or "ssl" in msg:
            return "tls", text
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectError):
        return "connect", text
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return "read", text
    return "connect", text


class Fetcher:
    """Fetches URLs through one shared httpx client, host by host within the politeness limits."""

    def __init__(self, politeness: Politeness, timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
                 user_agent: str = DEFAULT_USER_AGENT, verify_tls: bool = True):
        self.politeness = politeness
        self.timeout = timeout
        self.retries = retries
        self.requests = 0
        self._transport = AsyncioTransport(verify=verify_tls)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=self._transport,
            headers={"User-Agent": user_agent, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
                     "Accept-Language": "zh-CN,zh;q=0.9"},
        )
        # with no proxy configured every request goes straight to the transport: the client's per-request
        # URL merging, auth and redirect machinery cost more CPU than the request itself (redirects are ours)
        self._direct = not any(k in ("http", "https", "all") for k in urllib.request.getproxies())
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._header_lines = b"".join([b"%s: %s\r\n" % h for h in self._client.headers.raw])

    async def aclose(self) -> None:
        await self._client.aclose()

    async def text(self, url: str) -> tuple[int, str]:
        """Small helper for robots.txt and similar: (status, text), following redirects."""
        r = await self.fetch(url, body_limit=512 * 1024, obey_robots=False)
        if r.error or r.status is None:
            raise OSError(r.error or "no response")
        return r.status, (r.body or b"").decode("utf-8", "replace")

    async def fetch(self, url: str, *, head_first: bool = False, body_limit: int = MAX_BODY,
                    obey_robots: bool = True) -> FetchResult:
        """Fetch ``url`` following redirects by hand so that the chain is recorded and loops are caught."""
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
        for _ in range(MAX_REDIRECTS + 1):
            hop = await self._request_with_retries(current, result.method, body_limit)
            if hop.status in (400, 403, 404, 405, 406, 500, 501, 503) and result.method == "HEAD" and HEAD_REFUSED_FALLBACK:
                result.method = "GET"
                hop = await self._request_with_retries(current, "GET", body_limit)
            result.attempts += hop.attempts
            if hop.error:
                result.error, result.detail = hop.error, hop.detail
                break
            result.status = hop.status
            result.content_type = hop.content_type
            result.retry_after = hop.retry_after
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

    async def _request_with_retries(self, url: str, method: str, body_limit: int) -> FetchResult:
        host = urlsplit(url).hostname or ""
        if host.endswith(RESERVED_TLDS):
            return FetchResult(url=url, method=method, error="dns", detail=f"{host}: reserved name, never resolves",
                               attempts=0)
        limiter = self.politeness.limiter(host_key(url))
        attempts = 0
        rate_waits = 0
        timeouts = 0
        while True:
            attempts += 1
            async with limiter.slot():
                hop = await self._request(url, method, body_limit)
            hop.attempts = attempts
            if hop.status == 429:
                wait = hop.retry_after if hop.retry_after is not None else 2.0 ** rate_waits
                if wait <= MAX_RETRY_AFTER and rate_waits < 3:
                    rate_waits += 1
                    limiter.slow_down(wait)
                    await asyncio.sleep(wait)
                    continue
                return hop
            transient = hop.status in TRANSIENT_STATUS or hop.error in ("connect", "read", "timeout")
            if hop.error == "timeout":
                timeouts += 1
                transient = timeouts <= 1          # a second timeout is a verdict, not bad luck
            if transient and attempts <= self.retries:
                await asyncio.sleep(0.25 * 2 ** (attempts - 1))
                continue
            return hop

    async def _request(self, url: str, method: str, body_limit: int) -> FetchResult:
        self.requests += 1
        out = FetchResult(url=url, method=method)
        try:
            async with asyncio.timeout(self.timeout):
                resp = await self._send(method, url)
                try:
                    out.status = resp.status_code
                    out.content_type = resp.headers.get("content-type", "")
                    if resp.status_code in (301, 302, 303, 307, 308):
                        out.detail = resp.headers.get("location", "")
                        return out
                    if resp.status_code == 429:
                        out.retry_after = _retry_after(resp.headers.get("retry-after"))
                    if method == "GET" and body_limit > 0:
                        chunks: list[bytes] = []
                        size = 0
                        async for chunk in resp.aiter_raw() if resp.headers.get("content-encoding") in (None, "identity") \
                                else resp.aiter_bytes():
                            chunks.append(chunk)
                            size += len(chunk)
                            if size >= body_limit:
                                out.truncated = True
                                break
                        out.body = b"".join(chunks)[:body_limit]
                finally:
                    await resp.aclose()
        except Exception as exc:  # noqa: BLE001 - every transport failure becomes a verdict
            out.status = None
            out.error, out.detail = _classify_error(exc)
        return out

    async def _send(self, method: str, url: str) -> httpx.Response:
        """An open (streaming) response; cookies the site sets are kept and sent back, as by the client."""
        client = self._client
        if not self._direct:
            return await client.send(client.build_request(method, url), stream=True)
        request = None
        lines = self._header_lines if not client.cookies.jar else self._with_cookie(method, url)
        plain = None if lines is None else plain_request(method, url, lines)
        if plain is None:
            request = httpx.Request(method, url, headers=client.headers, extensions=self._extensions)
            if client.cookies.jar:
                client.cookies.set_cookie_header(request)
            resp = await self._transport.handle_async_request(request)
        else:                       # the usual case: no httpx.Request (its URL parser: ~60 µs a request)
            resp = await self._transport.roundtrip(plain[0], method, plain[1], self._extensions["timeout"])
        if "set-cookie" in resp.headers:
            resp.request = request or httpx.Request(method, url, headers=client.headers)
            client.cookies.extract_cookies(resp)
        return resp

    def _with_cookie(self, method: str, url: str) -> bytes | None:
        """The request's header lines with the ``Cookie`` line the client's jar has for ``url``, where httpx puts
        it (last); None for a value httpx would refuse or that could break the head (it then decides)."""
        req = urllib.request.Request(url, method=method)
        self._client.cookies.jar.add_cookie_header(req)
        cookie = req.get_header("Cookie")
        if not cookie:
            return self._header_lines
        if not cookie.isascii() or "\r" in cookie or "\n" in cookie:
            return None
        return self._header_lines + b"Cookie: " + cookie.encode("ascii") + b"\r\n"
