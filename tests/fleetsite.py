"""A fleet of town sites on loopback for the city/province-scale tests and benchmarks (issue 19), and its servers.

25 sites built from the independent town site (tests/townsite.py), each with its own seed, name, 网站标识码 and 文号:

* 20 sub-sites of ONE host, ``/<code>/`` (as Zhongshan's 镇街 sites all live under ``www.zs.gov.cn/<code>/``),
  whose ``/`` is the city portal's page listing them; the first is the town site itself (``/xqbsc/``, seed 13);
* 5 sites each on a host of its own (another port of 127.0.0.1), at the host's root ``/``;
* the provincial platform every site links to (external links, one more host) and a port nobody listens on.

Every host logs every request it answers, in the serving process: the arrival (``time.time()`` and
``time.monotonic()``, both read in the handler once the request line and headers are read; the monotonic clock is
the system's, the same in every process, and is what ``max_in_window`` uses), the end of the answer (monotonic),
method, path, status, and the number of requests in flight at that host at the arrival, itself included (counted in
the handler). One append-only file per host (``os.write`` of one line per request, written when the answer is
sent): readable during the run (requests still in flight are not there yet) and after it (``__exit__`` keeps a
copy in memory and removes the files).

    with FleetServer(scale=0.002) as fleet:
        for name, start_url, host, pages in fleet.sites():
            ...                                     # scan it
        fleet.max_in_window(fleet.city, 1.0)        # the most request arrivals the shared host saw in any second
        fleet.max_in_flight(fleet.city)             # the most requests it answered at once

``python tests/fleetsite.py --serve [--scale S] [--config PATH]`` serves the fleet until interrupted, prints each
site's start URL and writes a ``[[sites]]`` config of the 25 sites.
"""

from __future__ import annotations

import argparse
import bisect
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Collection, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from loopback import send
from townsite import _NOT_FOUND, CITY, GENERATED, SITE_ID, TODAY, TownSite, _listen, _refused_port, province_answer

from sitewatch.demo import conditional as cond

# code, name, issuer of its 文号: Zhongshan's 街道 and 镇 (the first is the town site itself)
SHARED_SITES = [
    ("xqbsc", "西区办事处", "西办"), ("dqbsc", "东区办事处", "东办"), ("nqbsc", "南区办事处", "南办"),
    ("sqbsc", "石岐办事处", "岐办"), ("wgsbsc", "五桂山办事处", "桂办"), ("hpz", "黄圃镇", "圃府"),
    ("ntz", "南头镇", "南头府"), ("dfz", "东凤镇", "凤府"), ("fsz", "阜沙镇", "阜府"), ("xlz", "小榄镇", "榄府"),
    ("dsz", "东升镇", "东升府"), ("gzz", "古镇镇", "古府"), ("hlz", "横栏镇", "横府"), ("sjz", "三角镇", "三角府"),
    ("mzz", "民众镇", "民府"), ("nlz", "南朗镇", "朗府"), ("gkz", "港口镇", "港府"), ("dyz", "大涌镇", "涌府"),
    ("sxz", "沙溪镇", "沙府"), ("ssz", "三乡镇", "乡府"),
]
OWN_HOST_SITES = [
    ("bfz", "板芙镇", "芙府"), ("swz", "神湾镇", "神府"), ("tzz", "坦洲镇", "坦府"),
    ("hjkfq", "火炬开发区", "火炬管"), ("cxxq", "翠亨新区", "翠管"),
]
DEFAULT_SCALE = 0.002       # 108-123 pages a site (TownSite's table of pages per scale)
# the newest document's age of the columns a rule judges, per site (the town site keeps its own): stale columns stay
# beyond the window of column.stale (dynamic 14 days, notice 183), their fresh twins inside it
AGES = {"sqdt": (17, 60), "zwgk/fdzdgknr/zcwj": (190, 330), "zwhd": (0, 11), "zwgk/fdzdgknr/gsgg": (30, 175)}
SIZES = (1.0, 1.5, 1.25, 1.75, 1.125)    # each site's scale is the fleet's times one of these, in turn


class Site(NamedTuple):
    name: str               # the site's name (its [site] name in a config)
    start_url: str
    host: str               # "127.0.0.1:PORT": the key of log(), max_in_window(), max_in_flight()
    pages: frozenset[str]   # every in-scope HTML page (absolute URLs): what a complete crawl reads


class Request(NamedTuple):
    t: float                # arrival, time.time()
    mono: float             # arrival, time.monotonic() (system-wide)
    end: float              # answer sent, time.monotonic()
    method: str
    path: str               # as the request line had it (query included)
    status: int
    in_flight: int          # requests in flight at this host at the arrival, this one included


# ---- the fleet's workers -----------------------------------------------------------------------------------------

SRC = str(Path(__file__).resolve().parents[1] / "src")


def start_worker(name: str, db: str, broker: str, log_dir: Path, *, threads: int = 4,
                 lease: float = 10) -> subprocess.Popen:
    """A ``sitewatch worker`` process (its own process group, its output in ``log_dir/<name>.log``)."""
    log = open(Path(log_dir) / f"{name}.log", "w")
    return subprocess.Popen([sys.executable, "-m", "sitewatch", "worker", "--db", db, "--broker", broker,
                             "--name", name, "--threads", str(threads), "--lease", f"{lease:g}"],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": SRC},
                            start_new_session=True)


def stop_workers(workers: Iterable[subprocess.Popen]) -> None:
    """SIGTERM (running scans checkpoint), then SIGKILL after 30 s."""
    workers = list(workers)
    for p in workers:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in workers:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


# ---- what the log says -------------------------------------------------------------------------------------------

def max_in_window(records: Iterable[Request], seconds: float = 1.0) -> int:
    """The largest number of request arrivals in any window ``[t, t + seconds)`` (monotonic arrival times): a client
    that starts one request every 1/R s never has more than ``ceil(R * seconds)`` in one."""
    times = sorted(r.mono for r in records)
    best = 0
    for i, t in enumerate(times):
        best = max(best, bisect.bisect_left(times, t + seconds, i) - i)
    return best


def max_in_flight(records: Iterable[Request]) -> int:
    """The most requests the host was answering at once, as its handler counted them."""
    return max((r.in_flight for r in records), default=0)


def max_overlap(records: Iterable[Request], grace: float = 0.0) -> int:
    """The most ``[mono, end]`` intervals open at once, from the times alone (an end before an arrival at the same
    instant): the same as ``max_in_flight`` for a log this server wrote, so each checks the other.

    ``end`` is read after the answer was handed to the socket and the server thread got the log's lock: a client can
    read the answer, give its slot back and send its next request first (the fleet benchmark saw 5 in flight at a
    budget of 4 in 2 of 38 runs, the extra arrival under 0.6 ms before the other's end). ``grace`` ends each interval
    that much earlier, so that such a hand-over is not counted as two requests at once."""
    events = sorted([(r.mono, 1) for r in records] + [(r.end - grace, -1) for r in records])
    best = n = 0
    for _, step in events:
        n += step
        best = max(best, n)
    return best


def _parse(line: str) -> Request:
    t, mono, end, method, status, in_flight, path = line.split("\t", 6)
    return Request(float(t), float(mono), float(end), method, path, int(status), int(in_flight))


# ---- serving -----------------------------------------------------------------------------------------------------

class _Host:
    """One host: how it answers a path, its log file, its in-flight count (in the serving process)."""

    def __init__(self, sock, answer, log_path: str, busy, index: int):
        self.sock, self.answer, self.log_path = sock, answer, log_path
        self.busy, self.index = busy, index        # shared memory: the host's requests in flight, for the parent
        self.netloc = f"127.0.0.1:{sock.getsockname()[1]}"


def _handler(host: _Host, fd: int):
    lock = threading.Lock()
    state = {"in_flight": 0}
    busy, index = host.busy, host.index

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        server_version = "nginx"
        sys_version = ""

        def log_message(self, *a):
            pass

        def _serve(self, method: str) -> None:
            with lock:                      # arrival: counted and timed in one step, so the times order the counts
                state["in_flight"] += 1
                in_flight = busy[index] = state["in_flight"]
                t, mono = time.time(), time.monotonic()
            status = 500
            try:
                status, headers, body, head_status = host.answer(
                    self.path, request=self.headers if method == "GET" else None)
                if method == "HEAD" and head_status:      # refused by the application in front: no validators
                    status = head_status
                    headers = {k: v for k, v in headers.items() if k not in ("ETag", "Last-Modified")}
                send(self, method, status, headers, body)
            finally:                        # logged before it stops counting: no requests in flight, all logged
                with lock:
                    end = time.monotonic()
                    os.write(fd, f"{t!r}\t{mono!r}\t{end!r}\t{method}\t{status}\t{in_flight}\t{self.path}\n"
                             .encode("utf-8", "surrogateescape"))
                    state["in_flight"] -= 1
                    busy[index] = state["in_flight"]

        def do_GET(self):
            self._serve("GET")

        def do_HEAD(self):
            self._serve("HEAD")

    return Handler


def _servers(hosts: list[_Host]) -> list[ThreadingHTTPServer]:
    out = []
    for h in hosts:
        fd = os.open(h.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        srv = ThreadingHTTPServer(h.sock.getsockname(), _handler(h, fd), bind_and_activate=False)
        srv.socket.close()
        srv.socket = h.sock
        srv.daemon_threads = True
        srv.log_fd = fd
        out.append(srv)
    return out


def _serve_all(hosts: list[_Host]) -> None:
    servers = _servers(hosts)
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    servers[0].serve_forever()


def _province(path: str, request=None):
    return province_answer(path)


class FleetServer:
    """Serves the fleet: one host with ``shared`` sub-sites (at most 20) under ``/<code>/``, ``own`` sites (at most 5)
    each at the root of a host of its own, and the provincial host; in one child process (fork, a thread per
    connection) so the crawler under test shares no interpreter lock with it, or from threads (``in_process``).

    ``scale``: the sites' size (``TownSite``; 0.002, the default: 108-123 pages each); each site is built at this
    times one of ``SIZES`` (so they differ in size too where the scale is large enough to show it), with its own seed
    (from the fleet's ``seed``) and its own ages of the stale columns and their twins (``AGES``). The first sub-site,
    ``/xqbsc/``, is the town site itself at ``scale`` (seed 13, its own ages) when ``seed`` is 0. Attributes:
    ``city`` (the shared host, ``127.0.0.1:PORT``), ``own_hosts``, ``province``, ``refused`` (a base URL nobody
    answers), ``models`` (name -> ``TownSite``)."""

    def __init__(self, scale: float = DEFAULT_SCALE, *, shared: int = 20, own: int = 5, seed: int = 0,
                 conditional: bool = True, in_process: bool = False):
        if not (0 <= shared <= len(SHARED_SITES) and 0 <= own <= len(OWN_HOST_SITES) and shared + own):
            raise ValueError(f"shared 0-{len(SHARED_SITES)}, own 0-{len(OWN_HOST_SITES)}, at least one site")
        self.scale, self.in_process = scale, in_process
        self._dir = tempfile.mkdtemp(prefix="fleetsite_")
        city_sock, province_sock = _listen(), _listen()
        own_socks = [_listen() for _ in range(own)]
        port = lambda s: s.getsockname()[1]       # noqa: E731
        self.city, self.province = f"127.0.0.1:{port(city_sock)}", f"127.0.0.1:{port(province_sock)}"
        self.own_hosts = [f"127.0.0.1:{port(s)}" for s in own_socks]
        province, self.refused = f"http://{self.province}", f"http://127.0.0.1:{_refused_port()}"
        self.models: dict[str, TownSite] = {}
        self._sites: list[Site] = []
        self._mounts: list[tuple[str, TownSite]] = []           # the shared host's sub-sites by prefix
        specs = [(c, n, s, self.city) for c, n, s in SHARED_SITES[:shared]] + [
            (c, n, s, h) for (c, n, s), h in zip(OWN_HOST_SITES[:own], self.own_hosts, strict=True)]
        for i, (code, name, short, host) in enumerate(specs):
            on_city = host == self.city
            town = i == 0 and seed == 0                     # the town site itself, at the fleet's scale
            rng = random.Random(f"fleet/{seed}/{i}")
            ages = None if town else {c: rng.randint(*span) for c, span in AGES.items()}
            model = TownSite(f"http://{host}", province, self.refused, 13 if town else 1000 * seed + 100 + i,
                             scale=scale * SIZES[i % len(SIZES)], ages=ages, conditional=conditional, prefix=f"/{code}/" if on_city else "/", name=name,
                             site_id=SITE_ID if i == 0 else f"44200{i:05d}", short=short)
            self.models[name] = model
            self._sites.append(Site(name, f"http://{host}{model.prefix}", host, frozenset(model.expected_pages())))
            if on_city:
                self._mounts.append((model.prefix, model))
        own_models = [m for m in self.models.values() if m.prefix == "/"]
        answers = [(city_sock, self._city_answer, self.city),
                   *((s, m.answer, h) for s, h, m in zip(own_socks, self.own_hosts, own_models, strict=True)),
                   (province_sock, _province, self.province)]
        self._busy = multiprocessing.RawArray("i", len(answers))
        self._hosts = [_Host(sock, answer, self._log_path(host), self._busy, i)
                       for i, (sock, answer, host) in enumerate(answers)]
        for h in self._hosts:
            Path(h.log_path).touch()
        self._offsets: dict[str, tuple[int, float]] = {}          # host -> (log offset, monotonic) at reset_log
        self._kept: dict[str, list[Request]] | None = None        # the logs, once the server has stopped
        self._proc = None
        self._servers: list[ThreadingHTTPServer] = []

    # ---- the sites -----------------------------------------------------------------------------------------------
    def sites(self) -> list[Site]:
        """(name, start_url, host, pages) of every site: the shared host's sub-sites first."""
        return list(self._sites)

    @property
    def hosts(self) -> list[str]:
        """Every host served: the shared host, the own hosts, the provincial host."""
        return [h.netloc for h in self._hosts]

    def _city_answer(self, path: str, flaky: bool = True, request=None):
        bare = path.split("?", 1)[0].split("#", 1)[0]
        for prefix, model in self._mounts:
            if bare.startswith(prefix):
                return model.answer(path, flaky, request)
        if bare in ("/", "/index.html"):
            return self._city_page(request)
        return 404, {"Content-Type": "text/html"}, _NOT_FOUND, None

    def _city_page(self, request):
        links = "".join(f"<li><a href='{m.prefix}'>{m.name}</a></li>" for _, m in self._mounts)
        body = (f"<html><head><meta charset='utf-8'><title>{CITY}人民政府门户网站</title></head><body>"
                f"<h1>{CITY}人民政府门户网站</h1><h2>镇街网站</h2><ul>{links}</ul></body></html>").encode()
        tags = cond.validators(GENERATED, len(body))
        if request is not None and cond.not_modified(request, tags["ETag"], GENERATED):
            return 304, tags, b"", None
        return 200, {"Content-Type": "text/html", **tags}, body, None

    def change(self, name: str, changed: float | Collection[str], seed: int = 0) -> list[str]:
        """Edit pages of one site (``TownSite.change``) and serve the changed fleet; the changed URLs."""
        urls = self.models[name].change(changed, seed)
        if self._proc is not None:
            self._stop()
            self._start()
        return urls

    # ---- the log -------------------------------------------------------------------------------------------------
    def _log_path(self, host: str) -> str:
        return os.path.join(self._dir, host.replace(":", "_") + ".log")

    @staticmethod
    def _host(host: str) -> str:
        return urlsplit(host).netloc if "://" in host else host

    def idle(self, host: str | None = None, timeout: float = 2.0) -> bool:
        """Wait until the host (every host: None) answers no request, at most ``timeout`` seconds; True when it
        does. A client may read its answer a moment before the server logs it: an idle host has logged them all."""
        index = None if host is None else self.hosts.index(self._host(host))
        deadline = time.monotonic() + timeout
        while any(self._busy) if index is None else self._busy[index]:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def log(self, host: str, wait: float = 1.0) -> list[Request]:
        """Every request the host (``127.0.0.1:PORT`` or a URL on it) answered since the start or ``reset_log``,
        in order of arrival; first waiting up to ``wait`` seconds for the requests in flight (``idle``)."""
        host = self._host(host)
        if host not in self.hosts:
            raise KeyError(f"not a host of the fleet: {host}")
        offset, since = self._offsets.get(host, (0, -1.0))
        if self._kept is None and wait:
            self.idle(host, wait)
        if self._kept is not None:
            records = self._kept[host]
        else:
            with open(self._log_path(host), "rb") as f:
                f.seek(offset)
                data = f.read()
            lines = data.decode("utf-8", "surrogateescape").split("\n")[:-1]    # whole lines only
            records = [_parse(line) for line in lines]
        return sorted((r for r in records if r.mono >= since), key=lambda r: r.mono)

    def reset_log(self) -> None:
        """Forget the requests so far (a request that arrived before and ends after is forgotten too)."""
        now = time.monotonic()
        for host in self.hosts:
            size = os.path.getsize(self._log_path(host)) if self._kept is None else 0
            self._offsets[host] = (size, now)

    def requests(self, host: str) -> int:
        return len(self.log(host))

    def max_in_window(self, host: str, seconds: float = 1.0) -> int:
        """The most request arrivals at ``host`` in any window of ``seconds`` (``max_in_window`` of its log)."""
        return max_in_window(self.log(host), seconds)

    def max_in_flight(self, host: str) -> int:
        """The most requests ``host`` answered at once."""
        return max_in_flight(self.log(host))

    # ---- running -------------------------------------------------------------------------------------------------
    def _start(self) -> None:
        self._busy[:] = [0] * len(self._busy)
        for model in self.models.values():
            model._hits.clear()                    # the planted transient failures fail once more
        if self.in_process:
            self._servers = _servers(self._hosts)
            for s in self._servers:
                threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        else:
            ctx = multiprocessing.get_context("fork")
            self._proc = ctx.Process(target=_serve_all, args=(self._hosts,), daemon=True)
            self._proc.start()

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.join(5)
            self._proc = None
        for s in self._servers:
            s.shutdown()
            os.close(s.log_fd)
        self._servers = []

    def __enter__(self) -> FleetServer:
        self._start()
        return self

    def __exit__(self, *exc) -> None:
        self.idle(timeout=2.0)                      # the answers sent are logged
        self._stop()
        offsets, self._offsets = self._offsets, {}
        self._kept = {host: self.log(host) for host in self.hosts}
        self._offsets = {host: (0, since) for host, (_, since) in offsets.items()}
        for h in self._hosts:
            h.sock.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    # ---- a config for the benchmark ------------------------------------------------------------------------------
    def config(self, path: str | Path) -> Path:
        """Write a ``[[sites]]`` config of the fleet (name, start URL, the model's day as ``as_of``)."""
        out = []
        for s in self._sites:
            out.append(f'[[sites]]\n[sites.site]\nname = "{s.name}"\nstart_urls = ["{s.start_url}"]\n'
                       f"as_of = {TODAY.isoformat()}\n")
        path = Path(path)
        path.write_text("\n".join(out), encoding="utf-8")
        return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Serve the 25-site test fleet on loopback until interrupted.")
    ap.add_argument("--serve", action="store_true", required=True)
    ap.add_argument("--scale", type=float, default=DEFAULT_SCALE, help="site size (TownSite; 0.002: ~100 pages)")
    ap.add_argument("--config", default=None, help="where to write the [[sites]] config (default /tmp/fleetsite_*.toml)")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))     # stopped: the logs' folder is removed all the same
    with FleetServer(scale=args.scale) as fleet:
        if args.config:
            config = args.config
        else:
            fd, config = tempfile.mkstemp(prefix="fleetsite_", suffix=".toml")
            os.close(fd)
        fleet.config(config)
        for s in fleet.sites():
            print(f"{s.start_url}\t{s.name}\t{len(s.pages)} pages")
        print(f"province: http://{fleet.province}/  refused: {fleet.refused}/")
        print(f"config: {config}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
