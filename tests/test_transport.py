"""The crawl's HTTP transport against raw loopback servers: keep-alive, stale connections, body framings,
timeouts, protocol errors and TLS, as the Fetcher reports them."""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable

import httpx
import pytest
import trustme

from sitewatch.crawl.fetch import Fetcher
from sitewatch.crawl.politeness import Politeness
from sitewatch.crawl.transport import AsyncioTransport

Handler = Callable[[socket.socket, bytes, int], bool]   # (conn, request head, nth request) -> keep the connection?


class RawServer:
    """A loopback TCP server whose handler writes raw bytes, counting connections and requests."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None):
        self.handler = handler
        self.tls = tls
        self.connections = 0
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                with self._lock:
                    self.requests.append(head)
                    nth = len(self.requests)
                if not self.handler(conn, head, nth):
                    return
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def response(body: bytes = b"<html><title>ok</title></html>", status: str = "200 OK", headers: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"{headers}\r\n").encode() + body


@pytest.fixture
def serve():
    servers: list[RawServer] = []

    def start(handler: Handler, tls: ssl.SSLContext | None = None) -> RawServer:
        servers.append(RawServer(handler, tls))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def fetch_all(urls: list[str], *, timeout: float = 2.0, retries: int = 0, heads: tuple[str, ...] = (),
              concurrency: int = 1, verify_tls: bool = True):
    """Fetch ``urls`` one after the other through one Fetcher (those in ``heads`` HEAD first)."""
    async def run():
        fetcher = Fetcher(Politeness(concurrency=concurrency, rate=0, obey_robots=False), timeout=timeout,
                          retries=retries, verify_tls=verify_tls)
        try:
            return [await fetcher.fetch(u, head_first=u in heads) for u in urls]
        finally:
            await fetcher.aclose()
    return asyncio.run(run())


def test_keep_alive_connection_is_reused_for_gets_heads_and_redirects(serve):
    def handler(conn, head, nth):
        if head.startswith(b"HEAD"):
            conn.sendall(response(headers="X-Head: 1\r\n")[:-len(b"<html><title>ok</title></html>")])
        elif b" /moved " in head:
            conn.sendall(response(b"moved", "302 Found", "Location: /target\r\n"))
        else:
            conn.sendall(response())
        return True

    srv = serve(handler)
    urls = [srv.url + p for p in ("/a", "/b.pdf", "/moved", "/c")]
    results = fetch_all(urls, heads=(urls[1],))
    assert [r.status for r in results] == [200, 200, 200, 200]
    assert results[0].body == b"<html><title>ok</title></html>"
    assert results[1].method == "HEAD" and results[1].body is None
    assert results[2].chain == [(srv.url + "/moved", 302)] and results[2].final_url == srv.url + "/target"
    assert len(srv.requests) == 5
    assert srv.connections == 1          # HEAD, redirect and GETs all on one kept-alive connection


def test_connection_closed_by_the_server_while_idle_is_replaced(serve):
    def handler(conn, head, nth):
        conn.sendall(response())
        return nth % 2 == 0                  # every other answer, drop the keep-alive connection silently

    srv = serve(handler)
    results = fetch_all([srv.url + f"/p{i}" for i in range(6)])
    assert [r.status for r in results] == [200] * 6
    assert all(r.error is None for r in results)


def test_stale_connection_that_drops_the_request_is_retried_once(serve):
    def handler(conn, head, nth):
        if nth == 2:
            conn.shutdown(socket.SHUT_RDWR)  # accepted the second request on the kept connection, then vanished
            return False
        conn.sendall(response())
        return True

    srv = serve(handler)
    results = fetch_all([srv.url + "/one", srv.url + "/two"])
    assert [r.status for r in results] == [200, 200]
    assert len(srv.requests) == 3 and srv.connections == 2


def test_chunked_gzip_and_close_delimited_bodies_are_read_whole(serve):
    big = ("<html><title>长页</title><body>" + "政务公开" * 20000 + "</body></html>").encode()

    def handler(conn, head, nth):
        if b" /chunked " in head:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(big), 7000):
                part = big[i:i + 7000]
                conn.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            conn.sendall(b"0\r\n\r\n")
            return True
        if b" /gzip " in head:
            conn.sendall(response(gzip.compress(big), headers="Content-Encoding: gzip\r\n"))
            return True
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n" + big)
        return False

    srv = serve(handler)
    results = fetch_all([srv.url + "/chunked", srv.url + "/gzip", srv.url + "/close"])
    assert [r.body for r in results] == [big, big, big]


def test_stalled_body_is_a_timeout_and_garbage_is_a_read_error(serve):
    def handler(conn, head, nth):
        if b" /stall " in head:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly a little")
            time.sleep(3)
        else:
            conn.sendall(b"this is not HTTP at all\r\n\r\n")
        return False

    srv = serve(handler)
    stalled, garbage = fetch_all([srv.url + "/stall", srv.url + "/garbage"], timeout=0.5)
    assert stalled.error == "timeout" and stalled.status is None
    assert garbage.error == "read" and garbage.status is None


def test_refused_connection_and_names_resolved_through_the_resolver(serve):
    srv = serve(lambda conn, head, nth: conn.sendall(response()) or True)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed_port = s.getsockname()[1]
    s.close()
    refused, by_name = fetch_all([f"http://127.0.0.1:{closed_port}/", f"http://localhost:{srv.port}/"])
    assert refused.error == "refused"
    assert by_name.status == 200 and srv.requests[0].lower().find(b"host: localhost:") > 0


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def tls_server(serve, ca) -> RawServer:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    return serve(lambda conn, head, nth: conn.sendall(response()) or True, tls=ctx)


def test_untrusted_certificate_is_a_tls_error_unless_verification_is_off(serve, ca):
    srv = tls_server(serve, ca)
    (untrusted,) = fetch_all([srv.url + "/"])
    assert untrusted.error == "tls"
    (unverified,) = fetch_all([srv.url + "/"], verify_tls=False)
    assert unverified.status == 200 and unverified.body.startswith(b"<html>")


def test_trusted_certificate_over_https_with_keep_alive(serve, ca):
    srv = tls_server(serve, ca)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    async def run():
        async with httpx.AsyncClient(transport=AsyncioTransport(verify=client_ctx)) as client:
            return [(await client.get(srv.url + f"/{i}")).status_code for i in range(3)]

    assert asyncio.run(run()) == [200, 200, 200]
    assert srv.connections == 1


def test_cookies_a_site_sets_are_sent_back_like_a_browser(serve):
    def handler(conn, head, nth):
        conn.sendall(response(headers="Set-Cookie: waf_token=abc123; Path=/\r\n" if nth == 1 else ""))
        return True

    srv = serve(handler)
    fetch_all([srv.url + "/first", srv.url + "/second"])
    assert b"cookie:" not in srv.requests[0].lower()
    assert b"cookie: waf_token=abc123" in srv.requests[1].lower()


def client_run(srv: RawServer, calls: list[tuple[str, str]], timeout: float = 2.0):
    """(method, path) through one AsyncClient on the transport: [(status, body or the exception), ...]."""
    async def run():
        out = []
        async with httpx.AsyncClient(transport=AsyncioTransport(), timeout=timeout) as client:
            for method, path in calls:
                try:
                    r = await client.request(method, srv.url + path)
                    out.append((r.status_code, r.content))
                except httpx.HTTPError as exc:
                    out.append((None, exc))
        return out
    return asyncio.run(run())


def test_bodiless_responses_keep_the_connection(serve):
    def handler(conn, head, nth):
        if head.startswith(b"HEAD"):         # announces a body it does not send
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5000\r\n\r\n")
        elif b" /304 " in head:
            conn.sendall(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5000\r\nETag: \"x\"\r\n\r\n")
        elif b" /204 " in head:
            conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        elif b" /head-no-length " in head:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n")
        else:
            conn.sendall(response())
        return True

    srv = serve(handler)
    calls = [("HEAD", "/a"), ("GET", "/a"), ("GET", "/304"), ("GET", "/b"), ("GET", "/204"), ("GET", "/c"),
             ("HEAD", "/head-no-length"), ("GET", "/d")]
    results = client_run(srv, calls)
    assert [s for s, _ in results] == [200, 200, 304, 200, 204, 200, 200, 200]
    assert [b for _, b in results] == [b"", response()[-30:], b"", response()[-30:], b"", response()[-30:],
                                       b"", response()[-30:]]
    assert srv.connections == 1


def test_informational_responses_are_skipped(serve):
    def handler(conn, head, nth):
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                     + response(headers="X-Final: yes\r\n"))
        return True

    srv = serve(handler)
    assert client_run(srv, [("GET", "/"), ("GET", "/again")]) == [(200, response()[-30:])] * 2
    assert srv.connections == 1


def test_connection_close_and_http10_responses_are_not_reused(serve):
    def handler(conn, head, nth):
        if b" /close " in head:
            conn.sendall(response(headers="Connection: close\r\n"))
        elif b" /http10 " in head:
            conn.sendall(response().replace(b"HTTP/1.1", b"HTTP/1.0", 1))
        elif b" /http10-keep " in head:
            conn.sendall(response(headers="Connection: keep-alive\r\n").replace(b"HTTP/1.1", b"HTTP/1.0", 1))
        else:
            conn.sendall(response())
        return True                          # the server would keep it: the client must not

    srv = serve(handler)
    results = client_run(srv, [("GET", "/close"), ("GET", "/a"), ("GET", "/http10"), ("GET", "/b"),
                               ("GET", "/http10-keep"), ("GET", "/c")])
    assert [s for s, _ in results] == [200] * 6
    assert srv.connections == 3              # /close|/a, /http10|/b, /http10-keep + /c on the kept one


def test_response_in_many_small_writes_and_odd_but_harmless_framing(serve):
    def dribble(conn, data: bytes) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(data), 3):
            conn.sendall(data[i:i + 3])
            time.sleep(0.0005)

    def handler(conn, head, nth):
        if b" /chunked " in head:
            dribble(conn, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Pad:  padded \t\r\n\r\n"
                          b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n")
        elif b" /bare-lf " in head:
            conn.sendall(b"HTTP/1.1 200 OK\nContent-Length: 2\nX-Old: folded\n  value\n\nok")
        else:
            dribble(conn, response())
        return True

    srv = serve(handler)

    async def run():
        async with httpx.AsyncClient(transport=AsyncioTransport()) as client:
            return [await client.get(srv.url + p) for p in ("/plain", "/chunked", "/bare-lf", "/plain")]

    plain, chunked, bare, again = asyncio.run(run())
    assert plain.content == again.content == response()[-30:]
    assert chunked.content == b"hello world" and chunked.headers["x-pad"] == "padded"
    assert "x-trailer" not in chunked.headers
    assert chunked.http_version == "HTTP/1.1" and chunked.reason_phrase == "OK"
    assert bare.content == b"ok"
    assert srv.connections == 1


def test_oversized_head_truncated_body_and_trailing_junk(serve):
    def handler(conn, head, nth):
        if b" /huge-head " in head:
            conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"x" * 150_000 + b"\r\n\r\n")
            return False
        if b" /truncated " in head:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
            return False
        if b" /junk " in head:               # a response, then bytes no request asked for
            conn.sendall(response() + b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            return True
        conn.sendall(response())
        return True

    srv = serve(handler)
    results = client_run(srv, [("GET", "/huge-head"), ("GET", "/truncated"), ("GET", "/junk"), ("GET", "/next")])
    assert isinstance(results[0][1], httpx.RemoteProtocolError) and "larger than" in str(results[0][1])
    assert isinstance(results[1][1], httpx.RemoteProtocolError)
    assert results[2] == (200, response()[-30:]) and results[3] == (200, response()[-30:])
    assert srv.connections == 4              # the connection that carried junk is not reused


def test_body_limit_stops_reading_and_drops_the_connection(serve):
    big = b"<html>" + b"x" * 3_000_000 + b"</html>"

    def handler(conn, head, nth):
        conn.sendall(response(big if b" /big " in head else b"<html>small</html>"))
        return True

    srv = serve(handler)

    async def run():
        fetcher = Fetcher(Politeness(concurrency=1, rate=0, obey_robots=False), timeout=5, retries=0)
        try:
            return [await fetcher.fetch(srv.url + "/big", body_limit=1000), await fetcher.fetch(srv.url + "/small")]
        finally:
            await fetcher.aclose()

    limited, small = asyncio.run(run())
    assert limited.status == 200 and limited.body == big[:1000]
    assert small.body == b"<html>small</html>"
    assert srv.connections == 2              # the half-read response's connection was closed, not reused


def test_request_bytes_frame_the_body_and_refuse_header_injection():
    from sitewatch.crawl.transport import _request_bytes

    get = httpx.Request("GET", "http://example.gov.cn:8080/a%20b?q=1", headers={"User-Agent": "sw"})
    assert _request_bytes(get, b"") == (b"GET /a%20b?q=1 HTTP/1.1\r\nHost: example.gov.cn:8080\r\n"
                                        b"User-Agent: sw\r\n\r\n")
    post = httpx.Request("POST", "http://example.gov.cn/f", content=b"a=1")
    assert _request_bytes(post, post.content).endswith(b"Content-Length: 3\r\n\r\na=1")

    async def stream():
        yield b"abc"

    streamed = httpx.Request("POST", "http://example.gov.cn/f", content=stream())
    assert _request_bytes(streamed, b"abc").endswith(b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    bad = httpx.Request("GET", "http://example.gov.cn/", headers={"X-Evil": "a\r\nInjected: 1"})
    with pytest.raises(httpx.LocalProtocolError):
        _request_bytes(bad, b"")


def test_plain_requests_are_byte_for_byte_what_httpx_would_send():
    from sitewatch.crawl.fetch import Fetcher
    from sitewatch.crawl.transport import _request_bytes, plain_request

    client = Fetcher(Politeness(obey_robots=False))._client
    lines = b"".join(b"%s: %s\r\n" % h for h in client.headers.raw)
    plain = ["http://www.zs.gov.cn/", "http://www.zs.gov.cn", "https://www.zs.gov.cn:443/a/b.html",
             "http://127.0.0.1:8080/xqbsc/tzgg/index_1.html", "http://a.gov.cn:80/?q=1&b=%E4%B8%AD",
             "http://a.gov.cn/x;jsessionid=1/y.jsp?a=b/c?d", "http://xn--fiq228c.gov.cn/%7Euser/a_b-c.~d",
             "http://a.gov.cn/col/col123/index.html?uid=4&pageNum=2", "https://a.gov.cn:8443/$!'()*+,=:@/",
             "http://a.gov.cn:080//x//y?", "http://a.gov.cn/%e4%b8%ad?q=%E4"]
    for method in ("GET", "HEAD"):
        for url in plain:
            request = httpx.Request(method, url, headers=client.headers)
            origin, data = plain_request(method, url, lines)
            assert data == _request_bytes(request, b""), url
            assert origin == (request.url.raw_scheme, request.url.raw_host.decode(),
                              request.url.port or (443 if url.startswith("https") else 80)), url
    odd = ["http://user:pw@a.gov.cn/", "http://[::1]:8080/", "http://中山.gov.cn/", "http://a.gov.cn/a b",
           "http://a.gov.cn/a/../b", "http://a.gov.cn/./b", "http://a.gov.cn/100%", "http://a.gov.cn/{x}",
           "http://a.gov.cn/a#f", "http://A.gov.cn/", "http://a.gov.cn:99999/", "http://a.gov.cn:0/", "ftp://a.gov.cn/",
           "http://a.gov.cn/a\r\nX-Evil: 1"]
    for url in odd:
        assert plain_request("GET", url, lines) is None, url


def test_plain_requests_carry_the_cookies_httpx_would_send():
    from sitewatch.crawl.fetch import Fetcher
    from sitewatch.crawl.transport import _request_bytes, plain_request

    fetcher = Fetcher(Politeness(obey_robots=False))
    client = fetcher._client
    client.cookies.set("acw_tc", "0bc1f2e3a4", domain="www.zs.gov.cn", path="/")
    client.cookies.set("JSESSIONID", "AB12CD", domain="www.zs.gov.cn", path="/xqbsc/")
    client.cookies.set("other", "1", domain="www.gd.gov.cn")
    for url in ("http://www.zs.gov.cn/", "http://www.zs.gov.cn/xqbsc/a.html", "http://www.gd.gov.cn/x",
                "http://www.example.gov.cn/"):
        request = httpx.Request("GET", url, headers=client.headers)
        client.cookies.set_cookie_header(request)
        lines = fetcher._with_cookie("GET", url)
        assert plain_request("GET", url, lines)[1] == _request_bytes(request, b""), url
    assert b"JSESSIONID=AB12CD; acw_tc=0bc1f2e3a4" in fetcher._with_cookie("GET", "http://www.zs.gov.cn/xqbsc/")
    client.cookies.set("odd", "值", domain="www.zs.gov.cn")
    assert fetcher._with_cookie("GET", "http://www.zs.gov.cn/") is None       # httpx decides (it refuses non-ASCII)


def test_a_content_length_repeated_with_one_value_is_accepted_as_by_browsers(serve):
    def handler(conn, head, nth):
        if b" /twice " in head:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok")
        elif b" /list " in head:
            conn.sendall(b"HTTP/1.1 200 OK\nContent-Length: 2, 2\n\nok")
        else:                                # two lengths that disagree: no way to tell where the body ends
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok")
        return True

    srv = serve(handler)
    twice, listed, differing = client_run(srv, [("GET", "/twice"), ("GET", "/list"), ("GET", "/differ")])
    assert twice == (200, b"ok") and listed == (200, b"ok")
    assert isinstance(differing[1], httpx.RemoteProtocolError)
    assert srv.connections == 1              # the repaired heads left the connection usable
