"""Network faults seen in the field, modelled on loopback: office proxies, many origins under the default
descriptor limit, a dual-stack host whose first address drops packets, compression bombs."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import os
import select
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import brotli
import pytest
from conftest import scan_site
from loopback import Answer, LoopbackSite, page

from sitewatch.crawl.fetch import MAX_BODY, Fetcher
from sitewatch.crawl.netpolicy import NetPolicy
from sitewatch.crawl.politeness import Politeness
from sitewatch.probes import probe

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
              "no_proxy")
SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def clean_env(monkeypatch):
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def main_thread_connects(monkeypatch):
    """TCP connects made by the test's own thread (the crawl), not by the proxies' threads."""
    seen: list[tuple[str, int]] = []
    real = socket.socket.connect
    main = threading.main_thread()

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and threading.current_thread() is main:
            seen.append((address[0], address[1]))
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


class CountingProxy:
    """A forward HTTP proxy on 127.0.0.1 (absolute-form requests and CONNECT tunnels) that counts what it carried."""

    def __init__(self):
        self.seen: Counter[tuple[str, str]] = Counter()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _relay(self):
                target = urlsplit(self.path)
                proxy.seen[(self.command, self.path)] += 1
                assert target.hostname in ("127.0.0.1", "localhost"), target   # a loopback test: never further
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=5)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection",)}
                conn.request(self.command, target.path + (f"?{target.query}" if target.query else ""),
                             headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                conn.close()

            do_GET = do_HEAD = _relay

            def do_CONNECT(self):
                """A tunnel (what browsers and Playwright's own requests ask a proxy for), counted once."""
                host, _, port = self.path.rpartition(":")
                proxy.seen[("CONNECT", self.path)] += 1
                assert host in ("127.0.0.1", "localhost"), host                # a loopback test: never further
                upstream = socket.create_connection((host, int(port)), timeout=5)
                self.send_response(200, "Connection established")
                self.end_headers()
                ends = [self.connection, upstream]
                try:
                    while True:
                        ready, _, _ = select.select(ends, [], [], 5)
                        if not ready:
                            return
                        for end in ready:
                            data = end.recv(65536)
                            if not data:
                                return
                            (upstream if end is self.connection else self.connection).sendall(data)
                finally:
                    upstream.close()
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Socks5Proxy:
    """A minimal SOCKS5 server on 127.0.0.1 (no auth, CONNECT only) counting the tunnels it opened."""

    def __init__(self):
        self.tunnels: list[tuple[str, int]] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"socks5://127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = False

    def __enter__(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self.sock.close()

    def _accept(self):
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    @staticmethod
    def _exact(s, n):
        data = b""
        while len(data) < n:
            chunk = s.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _serve(self, c):
        try:
            ver, n = self._exact(c, 2)
            self._exact(c, n)
            c.sendall(b"\x05\x00")
            ver, cmd, _, atyp = self._exact(c, 4)
            if atyp == 1:
                host = socket.inet_ntoa(self._exact(c, 4))
            elif atyp == 3:
                host = self._exact(c, self._exact(c, 1)[0]).decode()
            else:
                host = socket.inet_ntop(socket.AF_INET6, self._exact(c, 16))
            port = struct.unpack("!H", self._exact(c, 2))[0]
            assert host in ("127.0.0.1", "localhost"), host          # a loopback test: never further
            self.tunnels.append((host, port))
            up = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", port))
            socks = [c, up]
            while True:
                r, _, _ = select.select(socks, [], [], 5)
                if not r:
                    break
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (up if s is c else c).sendall(data)
        except (OSError, ValueError, AssertionError):
            pass
        finally:
            c.close()


def small_site():
    nav = '<a href="/a.html">甲</a><a href="/b.html">乙</a><a href="/missing.html">丢</a>'
    return {"/": Answer(200, page("首页", nav)),
            "/a.html": Answer(200, page("甲", "<p>" + "正文" * 40 + "</p>")),
            "/b.html": Answer(200, page("乙", "<p>" + "正文" * 40 + "</p>")),
            "/robots.txt": Answer(200, "User-agent: *\nDisallow:\n", content_type="text/plain")}


def test_office_http_proxy_from_environment_carries_every_crawl_request(db, clean_env, main_thread_connects):
    """Issue 14: with HTTP_PROXY set the proxy saw 0 requests. Now robots.txt, the soft-404 probe, every page and
    link check go through it, and the crawl opens no connection of its own to the site."""
    with LoopbackSite(small_site()) as site, CountingProxy() as proxy:
        clean_env.setenv("HTTP_PROXY", proxy.url)
        result, _ = scan_site(site.url("/"), db)
        carried = sum(proxy.seen.values())
        assert carried == sum(site.requests.values()) > 0
        assert any(p.endswith("/robots.txt") for _, p in proxy.seen)
        assert {p.rsplit("/", 1)[1] for _, p in proxy.seen} >= {"", "a.html", "b.html", "missing.html"}
        port = int(site.base.rsplit(":", 1)[1])
    assert result.stats.pages == 3
    assert [f.url for f in result.findings if f.rule == "link.broken"] == [site.url("/missing.html")]
    assert main_thread_connects and all(p == int(proxy.url.rsplit(":", 1)[1]) for _, p in main_thread_connects)
    assert port not in {p for _, p in main_thread_connects}


def test_config_proxy_carries_crawl_and_probes(db, clean_env, main_thread_connects):
    with LoopbackSite(small_site()) as site, CountingProxy() as proxy:
        result, _ = scan_site(site.url("/"), db, proxy=proxy.url)
        crawl_carried = sum(proxy.seen.values())
        assert crawl_carried == sum(site.requests.values()) > 0
        r = probe(site.url("/a.html"), 3, proxy=proxy.url)
        assert r.ok and proxy.seen[("GET", site.url("/a.html"))] == 2
        clean_env.setenv("NO_PROXY", "127.0.0.1")                    # NO_PROXY exempts hosts from the config proxy
        before = sum(proxy.seen.values())
        assert probe(site.url("/b.html"), 3, proxy=proxy.url).ok and sum(proxy.seen.values()) == before
    assert result.stats.pages == 3
    proxy_port = int(proxy.url.rsplit(":", 1)[1])
    assert {p for _, p in main_thread_connects[:-1]} == {proxy_port}


def test_socks5_proxy_from_all_proxy(db, clean_env, main_thread_connects):
    """ALL_PROXY=socks5://...: the crawl's connections are tunnels through the SOCKS server."""
    pytest.importorskip("socksio")
    with LoopbackSite(small_site()) as site, Socks5Proxy() as socks:
        clean_env.setenv("ALL_PROXY", socks.url)
        result, _ = scan_site(site.url("/"), db)
        port = int(site.base.rsplit(":", 1)[1])
        assert socks.tunnels and {p for _, p in socks.tunnels} == {port}
    assert result.stats.pages == 3
    assert {p for _, p in main_thread_connects} == {int(socks.url.rsplit(":", 1)[1])}


ORIGINS_SCRIPT = r"""
import asyncio, collections, json, resource, socket, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
port, n = int(sys.argv[1]), int(sys.argv[2])
real = socket.getaddrinfo
def getaddrinfo(host, p, *a, **k):
    if isinstance(host, str) and host.endswith(".origins.example.com"):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(p or 0)))]
    return real(host, p, *a, **k)
socket.getaddrinfo = getaddrinfo
from sitewatch.crawl.fetch import Fetcher
from sitewatch.crawl.netpolicy import NetPolicy
from sitewatch.crawl.politeness import Politeness
async def main():
    f = Fetcher(Politeness(4, 0, obey_robots=False), timeout=10, retries=0, policy=NetPolicy.from_allow(["127.0.0.1"]))
    sem = asyncio.Semaphore(100)
    async def one(i):
        async with sem:
            return await f.fetch(f"http://o{i}.origins.example.com:{port}/", obey_robots=False)
    results = await asyncio.gather(*(one(i) for i in range(n)))
    await f.aclose()
    print(json.dumps({"ok": sum(r.status == 200 for r in results),
                      "errors": collections.Counter("EMFILE" if "Too many open files" in r.detail else r.error
                                                    for r in results if r.error)}))
asyncio.run(main())
"""


def test_1500_external_origins_under_the_default_descriptor_limit():
    """Issue 14: idle keep-alive connections were kept per origin for the whole crawl; 1,500 origins under the
    default 1,024 descriptors gave 484 "Too many open files" (reported as broken links)."""
    n = 1500
    loop = asyncio.new_event_loop()
    conns = Counter()

    async def handle(reader, writer):                # HTTP/1.1 keep-alive: the connection stays open
        conns["open"] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0, backlog=2048))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        out = subprocess.run([sys.executable, "-c", ORIGINS_SCRIPT, str(port), str(n)], capture_output=True,
                             text=True, timeout=240, env={**os.environ, "PYTHONPATH": SRC})
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert "EMFILE" not in doc["errors"], doc["errors"]
    assert doc["ok"] == n, doc["errors"]
    assert conns["open"] >= n                        # one connection per origin: the origins were distinct


def test_tls_settings_are_made_for_the_first_https_request(tmp_path):
    """An http-only crawl loads no CA bundle (~1 MB of memory); an https request gets the site's TLS settings:
    certifi's CAs (a self-signed certificate is a tls failure), a configured CA bundle (read when the fetcher is
    made, so a bad one fails before the crawl), or none at all (verify_tls = false)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    secure = f"https://127.0.0.1:{httpd.server_address[1]}/"

    async def fetch_both(plain: str, **kw):
        f = Fetcher(Politeness(2, 0, obey_robots=False), timeout=5, retries=0,
                    policy=NetPolicy.from_allow(["127.0.0.1"]), **kw)
        try:
            first = await f.fetch(plain, obey_robots=False)
            made = f._tls_context is not None
            return first.status, made, await f.fetch(secure, obey_robots=False)
        finally:
            await f.aclose()

    try:
        with LoopbackSite({"/": Answer(200, page("ok"))}) as site:
            status, made, res = asyncio.run(fetch_both(site.url("/")))
            assert (status, made, res.error) == (200, False, "tls")
            status, made, res = asyncio.run(fetch_both(site.url("/"), verify_tls=False))
            assert (status, made, res.status, res.body) == (200, False, 200, b"ok")
            status, made, res = asyncio.run(fetch_both(site.url("/"), ca_bundle=str(cert)))
            assert (status, made, res.status, res.body) == (200, True, 200, b"ok")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_dual_stack_host_whose_first_address_drops_packets(monkeypatch):
    """Issue 14: no Happy Eyeballs made a host whose first address drops packets a 5 s timeout (a broken link).
    Modelled on loopback: the first address is a listener on 127.0.0.2 whose accept queue is full (the kernel
    drops further SYNs, as a black-holed route does); the second is the real server."""
    with LoopbackSite({"/": Answer(200, page("ok"))}) as site:
        port = int(site.base.rsplit(":", 1)[1])
        hole = socket.socket()
        try:
            hole.bind(("127.0.0.2", port))
        except OSError:
            pytest.skip("127.0.0.2 cannot be bound here")
        hole.listen(0)
        fill = []
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.2", port))
            except BlockingIOError:
                pass
            fill.append(s)
        real = socket.getaddrinfo

        def getaddrinfo(host, p, *a, **k):
            if host == "dual.example.com":
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, int(p or 0)))
                        for ip in ("127.0.0.2", "127.0.0.1")]
            return real(host, p, *a, **k)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        policy = NetPolicy.from_allow(["127.0.0.0/8"])

        async def go():
            f = Fetcher(Politeness(2, 0, obey_robots=False), timeout=3, retries=0, policy=policy)
            try:
                return await f.fetch(f"http://dual.example.com:{port}/", obey_robots=False)
            finally:
                await f.aclose()

        try:
            r = asyncio.run(go())
        finally:
            for s in fill:
                s.close()
            hole.close()
        assert r.error is None and r.status == 200, (r.error, r.detail)
        assert site.hits("/") == 1


BOMB = 64 * 1024 * 1024          # decoded bytes of each bomb (16 x the body cap)


def _bombs() -> dict[str, tuple[bytes, str]]:
    html = b"<html><head><title>bomb</title></head><body>" + b" " * BOMB
    raw = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return {"gzip": (gzip.compress(html, 9), "gzip"),
            "deflate": (zlib.compress(html, 9), "deflate"),
            "rawdeflate": (raw.compress(html) + raw.flush(), "deflate"),
            "br": (brotli.compress(html, quality=4), "br")}


def fetch(url, **kw):
    async def go():
        f = Fetcher(Politeness(2, 0, obey_robots=False), timeout=10, retries=0,
                    policy=NetPolicy.from_allow(["127.0.0.0/8"]))
        try:
            return await f.fetch(url, obey_robots=False, **kw)
        finally:
            await f.aclose()
    return asyncio.run(go())


def test_compression_bombs_stop_at_the_body_cap_in_decoded_bytes():
    """Issue 14: one gzip bomb took the process to 150-180 MB; the cap now counts decoded bytes (RSS figures:
    bench/README.md)."""
    bombs = _bombs()
    small = b"<html><head><title>ok</title></head><body>" + "正文".encode() * 500 + b"</body></html>"
    routes = {f"/{k}.html": Answer(200, body, headers={"Content-Encoding": enc}) for k, (body, enc) in bombs.items()}
    routes["/small.html"] = Answer(200, gzip.compress(small), headers={"Content-Encoding": "gzip"})
    routes["/broken.html"] = Answer(200, b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 20,
                                    headers={"Content-Encoding": "gzip"})     # an invalid deflate block
    with LoopbackSite(routes) as site:
        for name in bombs:
            r = fetch(site.url(f"/{name}.html"))
            assert r.error is None and r.truncated, name
            assert len(r.body) == MAX_BODY and r.body.startswith(b"<html><head><title>bomb"), name
        ok = fetch(site.url("/small.html"))
        bad = fetch(site.url("/broken.html"))
    assert ok.body == small and not ok.truncated
    assert bad.error == "read" and "decoded" in bad.detail


def test_a_bomb_page_is_counted_as_a_body_cap_cut(db):
    body, enc = _bombs()["gzip"]
    with LoopbackSite({"/": Answer(200, page("首页", '<a href="/bomb.html">大</a>')),
                       "/bomb.html": Answer(200, body, headers={"Content-Encoding": enc})}) as site:
        result, _ = scan_site(site.url("/"), db)
    cut = result.stats.coverage.get("body_cap")
    assert cut and cut["count"] == 1 and cut["examples"] == [site.url("/bomb.html")]
