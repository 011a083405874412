"""ASGI middleware of the console: forwarded headers from a trusted proxy only, and the security headers, origin
checks and body limit every request and answer get."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
log = logging.getLogger("sitewatch.console")

# no inline script or style anywhere: the pages load /static/ files only
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY = 2 * 1024 * 1024          # bytes a request body may have (forms; a workbook upload later)


def networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``10.0.0.1``, ``10.0.0.0/24``, ``::1``) as networks; ValueError names a bad one."""
    out = []
    for v in values:
        try:
            out.append(ipaddress.ip_network(v.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{v!r} is not an IP address or network") from None
    return tuple(out)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:             # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:                           # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _within(addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None, nets: tuple[Network, ...]) -> bool:
    return addr is not None and any(addr.version == n.version and addr in n for n in nets)


class TrustedProxy:
    """Take the client address from ``X-Forwarded-For`` and the scheme from ``X-Forwarded-Proto`` only when the
    connection comes from one of ``trusted`` (the office's reverse proxy); from anyone else they are ignored, so a
    client cannot pick the address its sign-in failures are counted against. The client is the right-most address
    in ``X-Forwarded-For`` that is not itself a trusted proxy."""

    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...] = ()):
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.trusted:
            peer = scope.get("client")
            if peer and _within(_address(str(peer[0])), self.trusted):
                headers = Headers(scope=scope)
                scope = dict(scope)
                hops = [h.strip() for v in headers.getlist("x-forwarded-for") for h in v.split(",") if h.strip()]
                for hop in reversed(hops):
                    addr = _address(hop)
                    if addr is None:
                        break                           # garbage: keep what was established so far
                    scope["client"] = (str(addr), 0)
                    if not _within(addr, self.trusted):
                        break
                protos = [p.strip().lower() for v in headers.getlist("x-forwarded-proto") for p in v.split(",")]
                if protos and protos[-1] in ("http", "https"):
                    scope["scheme"] = protos[-1]
        await self.app(scope, receive, send)


class Security:
    """Every answer gets the security headers (CSP without inline script, nosniff, no framing, same-origin
    referrers; no caching of pages; HSTS over HTTPS). An unsafe request (POST …) coming from another site
    (``Sec-Fetch-Site: cross-site``, or an ``Origin`` other than this console's) is refused before it reaches an
    endpoint, and so is a body over ``max_body`` bytes."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in HEADERS.items():
                    headers[k] = v
                headers["cache-control"] = "no-cache" if static else "no-store"
                if https:
                    headers["strict-transport-security"] = HSTS
            await send(message)

        refused = self._refuse(scope)
        if refused is not None:
            await PlainTextResponse(refused[1], status_code=refused[0])(scope, receive, send_with_headers)
            return
        await self.app(scope, self._bounded(receive), send_with_headers)

    def _refuse(self, scope: Scope) -> tuple[int, str] | None:
        headers = Headers(scope=scope)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            return 413, "请求内容过大"
        if scope.get("method", "GET") in SAFE_METHODS:
            return None
        if headers.get("sec-fetch-site", "").lower() == "cross-site":
            return 403, "拒绝跨站请求"
        origin = headers.get("origin")
        expected = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
        if origin is not None and origin != expected:
            # behind a proxy whose address was not given with --trusted-proxy, the scheme seen here is http while
            # the browser's Origin says https: every form is refused until the proxy is trusted (docs/console.md)
            log.warning("refused %s %s: Origin %s is not this console (%s)", scope.get("method"), scope.get("path"),
                        origin[:100], expected[:100])
            return 403, "拒绝跨站请求"
        return None

    def _bounded(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body

        async def bounded() -> Message:
            nonlocal seen
            message: dict[str, Any] = dict(await receive())
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413)
            return message

        return bounded
