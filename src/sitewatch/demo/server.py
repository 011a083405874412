"""Loopback HTTP server for the demo portal, plus an "external" host and a refused port."""

from __future__ import annotations

import copy
import socket
import threading
import time
from collections import Counter
from collections.abc import Collection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from sitewatch.demo import conditional
from sitewatch.demo.site import Portal, Route

NOT_FOUND = (b'<!DOCTYPE html><html><head><meta charset="utf-8" /><title>404 Not Found</title></head>'
             b'<body><h1>404 Not Found</h1></body></html>')
URL_KEYS = {"path_or_url": "url", "path": "url", "entry": "entry_url", "interpretation_path": "interpretation_url"}


class RequestLog(Counter[tuple[str, str]]):
    """Thread-safe Counter of (method, path-with-query) received; paths are percent-decoded."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def add(self, key: tuple[str, str]) -> None:
        with self._lock:
            self[key] += 1

    def clear(self) -> None:
        with self._lock:
            super().clear()

    def paths(self, method: str | None = None) -> set[str]:
        """Paths requested at least once, optionally for one method."""
        with self._lock:
            return {p for (m, p) in list(self) if method is None or m == method}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr: tuple[str, int], owner: DemoServer, external: bool) -> None:
        self.owner = owner
        self.external = external
        super().__init__(addr, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TRS-WCM/7.0"
    sys_version = ""
    timeout = 30
    # headers and body go out in two writes: without TCP_NODELAY every answer waits ~40 ms for a delayed ACK,
    # which no production web server does (nginx, IIS and Tomcat send with TCP_NODELAY)
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_POST(self) -> None:
        self._send(405, {"Allow": "GET, HEAD", "Content-Type": "text/plain"}, b"Method Not Allowed", head=False)

    def _serve(self, head: bool) -> None:
        owner, external = self.server.owner, self.server.external
        split = urlsplit(self.path)
        path = unquote(split.path or "/", errors="replace")
        query = split.query
        method = "HEAD" if head else "GET"
        key = path + (f"?{query}" if query else "")
        (owner.ext_requests if external else owner.requests).add((method, key))
        portal = owner.portal
        route = portal.resolve_ext(path, query) if external else portal.resolve(path, query)
        if route is None:
            self._send(404, {"Content-Type": "text/html; charset=utf-8"}, NOT_FOUND, head)
            return
        if route.delay:
            time.sleep(route.delay)
        n = owner._hit(route)
        if n <= route.fail_first_n:
            self._send(route.fail_status, dict(route.fail_headers), route.fail_body, head)
            return
        headers = dict(route.headers)
        status, body = route.status, route.body
        if route.location:
            headers["Location"] = owner.absolute(route.location)
        if head and route.head_status:
            status, body = route.head_status, b""
            headers = {"Allow": "GET", "Content-Type": "text/html"}
        body = owner.fill_bytes(body)
        if status == 200 and route.last_modified is not None:
            tags = conditional.validators(route.last_modified, len(body))
            if owner.validators:
                headers.update(tags)
            if owner.conditional and (
                    conditional.not_modified(self.headers, tags["ETag"], route.last_modified)
                    or (owner.wrong_304(path) and conditional.conditional_present(self.headers))):
                self._send(304, tags, b"", head)
                return
        self._send(status, headers, body, head)

    def _send(self, status: int, headers: dict[str, str], body: bytes, head: bool) -> None:
        try:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, self.server.owner.fill(v))
            if status != 304:            # a 304 has no body; nginx sends no Content-Length with it
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head and status != 304:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True


def _reserve_refused_port(host: str) -> int:
    """A loopback port that nothing listens on: bind to port 0, note the port, close."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port
    finally:
        s.close()


class DemoServer:
    """The demo portal served on loopback, with an external host and a refused port.

    Static answers (routes with a `last_modified`) carry nginx-style `ETag` and `Last-Modified` headers, and a
    request whose `If-None-Match` matches (else whose `If-Modified-Since` is not older) gets 304 without a body
    (`demo.conditional`). `conditional=False` is a server that ignores validators in requests and always answers
    200 (it still sends them unless `validators=False`, a server that sends none). `wrong_304` is a misbehaving
    server: it answers 304 to any request carrying a validator, whether or not the page changed, for every static
    page (True) or for the paths given (e.g. the portal's `changed` pages).
    """

    def __init__(self, portal: Portal, host: str = "127.0.0.1", port: int = 0, *, conditional: bool = True,
                 validators: bool = True, wrong_304: bool | Collection[str] = False) -> None:
        self.portal = portal
        self.conditional = conditional and validators
        self.validators = validators
        self._wrong_304 = wrong_304 if isinstance(wrong_304, bool) else frozenset(wrong_304)
        self.requests = RequestLog()
        self.ext_requests = RequestLog()
        self._hits: dict[int, int] = {}
        self._hits_lock = threading.Lock()
        self._main = _Server((host, port), self, external=False)
        self._ext = self._bind_external(host)
        self.base_url = f"http://{host}:{self._main.server_address[1]}"
        ext_host, ext_port = self._ext.server_address[:2]
        self.ext_url = f"http://{ext_host!s}:{ext_port}"
        self.refused_url = f"http://{host}:{_reserve_refused_port(host)}"
        self.start_url = self.base_url + portal.expected["prefix"]
        self.expected = self._fill_manifest(portal.expected)
        self._threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
                         for s in (self._main, self._ext)]
        for t in self._threads:
            t.start()

    def _bind_external(self, host: str) -> _Server:
        try:
            return _Server(("127.0.0.2", 0), self, external=True)
        except OSError:
            return _Server((host, 0), self, external=True)

    def _hit(self, route: Route) -> int:
        with self._hits_lock:
            n = self._hits.get(id(route), 0) + 1
            self._hits[id(route)] = n
            return n

    def wrong_304(self, path: str) -> bool:
        """Whether this server wrongly answers 304 for `path` when the request carries a validator."""
        if isinstance(self._wrong_304, bool):
            return self._wrong_304
        return path in self._wrong_304 or (path.endswith("/") and path + "index.html" in self._wrong_304)

    def reset(self) -> None:
        """Forget per-route state (fail_first_n) and the request counts."""
        with self._hits_lock:
            self._hits.clear()
        self.requests.clear()
        self.ext_requests.clear()

    def fill(self, text: str) -> str:
        return text.replace("{ext}", self.ext_url).replace("{refused}", self.refused_url)

    def fill_bytes(self, body: bytes) -> bytes:
        if b"{" not in body:
            return body
        return body.replace(b"{ext}", self.ext_url.encode()).replace(b"{refused}", self.refused_url.encode())

    def absolute(self, path_or_url: str) -> str:
        """Absolute URL for a manifest or redirect target (paths are on the demo host)."""
        filled = self.fill(path_or_url)
        return self.base_url + filled if filled.startswith("/") else filled

    def _fill_manifest(self, expected: dict[str, Any]) -> dict[str, Any]:
        def walk(node: Any) -> Any:
            if isinstance(node, str):
                return self.fill(node)
            if isinstance(node, list):
                return [walk(x) for x in node]
            if isinstance(node, dict):
                out = {k: walk(v) for k, v in node.items()}
                for k, url_key in URL_KEYS.items():
                    if isinstance(node.get(k), str):
                        out[url_key] = self.absolute(node[k])
                if isinstance(node.get("found_on"), list):
                    out["found_on_urls"] = [self.absolute(p) for p in node["found_on"] if p.startswith("/")]
                return out
            return node

        out: dict[str, Any] = walk(copy.deepcopy(expected))
        out.update(base_url=self.base_url, start_url=self.start_url, ext_url=self.ext_url,
                   refused_url=self.refused_url)
        for key in ("robots_disallowed", "outside_prefix", "never_fetch"):
            out[key + "_urls"] = [self.absolute(p) for p in expected[key]]
        return out

    def stop(self) -> None:
        for s in (self._main, self._ext):
            s.shutdown()
            s.server_close()
        for t in self._threads:
            t.join(timeout=2)

    def __enter__(self) -> DemoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_portal(portal: Portal, host: str = "127.0.0.1", port: int = 0, *, conditional: bool = True,
                 validators: bool = True, wrong_304: bool | Collection[str] = False) -> DemoServer:
    """Start serving `portal` on loopback in background threads; call `.stop()` or use as a context manager."""
    return DemoServer(portal, host, port, conditional=conditional, validators=validators, wrong_304=wrong_304)
