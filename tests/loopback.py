"""A small programmable HTTP server on 127.0.0.1 for tests: routes map paths to canned or computed answers."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from sitewatch.demo import conditional as cond


@dataclass
class Answer:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0
    head_status: int | None = None           # answer HEAD with this status instead
    last_modified: dt.datetime | None = None  # validators: sent when set, or for every 200 of a conditional site
    etag: str | None = None                  # an ETag to send as is (e.g. weak 'W/"v1"'); default: nginx style


Route = Answer | Callable[[str, int], Answer]   # callable gets (method, nth request to this path)


SITE_MTIME = dt.datetime(2026, 1, 5, 2, 0, tzinfo=dt.UTC)   # a 200's Last-Modified when it sets none


class LoopbackSite:
    """`conditional=True` (opt-in) makes it answer like a static server: every 200 carries ETag and Last-Modified
    (`Answer.etag`, `Answer.last_modified`, else nginx style from `SITE_MTIME` and the body length) and a matching
    If-None-Match / If-Modified-Since gets 304. `wrong_304=True` answers 304 to any request carrying a validator.
    Without `conditional`, an answer that sets `etag` or `last_modified` sends them but never gets 304 (a server
    that ignores validators)."""

    def __init__(self, routes: dict[str, Route] | None = None, host: str = "127.0.0.1", *,
                 conditional: bool = False, wrong_304: bool = False):
        self.host = host                         # another loopback address (127.0.0.2) for a second "machine"
        self.conditional = conditional or wrong_304
        self.wrong_304 = wrong_304
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: Counter[tuple[str, str]] = Counter()
        self.current = threading.local()         # .headers: the request a route callable is answering
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True       # no ~40 ms delayed-ACK stall per answer

            def log_message(self, *a):  # quiet
                pass

            def _serve(self, method: str) -> None:
                path = unquote(self.path)
                bare = urlsplit(path).path
                with site._lock:
                    site.requests[(method, path)] += 1
                    nth = site.requests[(method, path)]
                route = site.routes.get(path, site.routes.get(bare))
                site.current.headers = self.headers
                ans = route(method, nth) if callable(route) else route
                if ans is None:
                    ans = Answer(404, "<html><head><title>Not Found</title></head><body>nothing here</body></html>")
                if ans.delay:
                    time.sleep(ans.delay)
                status = ans.head_status if (method == "HEAD" and ans.head_status) else ans.status
                body = ans.body.encode("utf-8") if isinstance(ans.body, str) else ans.body
                headers = {"Content-Type": ans.content_type, **ans.headers} if ans.content_type else ans.headers
                if status == 200 and (site.conditional or ans.etag or ans.last_modified):
                    mtime = ans.last_modified or SITE_MTIME
                    tags = cond.validators(mtime, len(body))
                    if ans.etag:
                        tags["ETag"] = ans.etag
                    headers = {**headers, **tags}
                    if site.conditional and (cond.not_modified(self.headers, tags["ETag"], mtime) or (
                            site.wrong_304 and cond.conditional_present(self.headers))):
                        status, headers, body = 304, tags, b""
                send(self, method, status, headers, body)

            def do_GET(self):
                self._serve("GET")

            def do_HEAD(self):
                self._serve("HEAD")

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> int:
        return sum(n for (m, p), n in self.requests.items() if urlsplit(p).path == path)

    def __enter__(self) -> LoopbackSite:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def send(handler: BaseHTTPRequestHandler, method: str, status: int, headers: dict[str, str], body: bytes) -> None:
    """Write one answer (no body for HEAD); a client that hung up is not an error of the server."""
    try:
        handler.send_response(status)
        for k, v in headers.items():
            handler.send_header(k, v)
        if status != 304:                        # a 304 has no body (and, as nginx sends it, no length)
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if method != "HEAD" and status != 304:
            handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass


def page(title: str, body: str = "", head: str = "") -> str:
    return f"<html><head><meta charset='utf-8'><title>{title}</title>{head}</head><body>{body}</body></html>"


def refused_port() -> int:
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
