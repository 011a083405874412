import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

SHARED = Path(__file__).resolve().parents[2] / "shared"


# --- running in parallel (pytest-xdist, `-n auto` in the README's test command) -------------------------------
# Modules that take longest, mostly waiting (killed and resumed scans, timeouts, scheduler runs, whole-site scans),
# longest first. They run first, so that the workers end together instead of one starting a 35 s module when the
# others are nearly done.
SLOW_FIRST = ("test_fleet_scale.py", "test_fleet_budget.py", "test_resume_exact.py", "test_demo_end_to_end.py", "test_scheduler.py", "test_store_faults.py",
              "test_townsite.py", "test_golden.py", "test_numbers.py", "test_render.py", "test_reports_browser.py",
              "test_resume.py", "test_scan_interrupt.py", "test_crawl_verdicts.py")
# Modules run by the same worker: they read the same session fixture (town_scan), made once per worker.
SAME_WORKER = {"test_golden.py": "test_townsite.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))      # stable: the rest keep their order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``-n`` without ``--dist``: each worker takes whole modules (so a module fixture is made once, not once per
    worker), in the order above; ``--dist`` given explicitly is left to pytest-xdist."""
    if config.getvalue("dist") != "load" or "--dist" in " ".join(config.invocation_params.args):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            folder, _, name = nodeid.split("::", 1)[0].rpartition("/")
            return f"{folder}/{SAME_WORKER.get(name, name)}"

    config.option.loadscopereorder = False      # keep SLOW_FIRST's order, not the largest module first
    return ModuleScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def offline_names():
    """Host names resolve as on a machine without a network: every name but localhost fails at once.

    Tests serve their sites on 127.0.0.1; the external links of their pages (real portal pages link to hundreds
    of hosts) must give the same answer on every machine, and at once instead of after a resolver timeout (the
    real-pages golden scan waited ~40 s on them). Address literals and localhost resolve as usual; a test that
    needs a made-up name resolved patches ``socket.getaddrinfo`` over this one."""
    import ipaddress
    import socket

    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or name.rstrip(".").lower().split(".")[-1] == "localhost":
            return real(host, *args, **kwargs)
        try:
            ipaddress.ip_address(name.split("%", 1)[0])
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "getaddrinfo", getaddrinfo)
        yield


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "sitewatch.db")


def scan_site(start_url, db_path, *, as_of=dt.date(2026, 11, 26), **overrides):
    """Run a real scan (fast politeness for loopback) and return (result, store)."""
    from sitewatch.config import SiteConfig
    from sitewatch.scan import run_scan
    from sitewatch.store import Store

    cfg = SiteConfig(name="test", start_urls=[start_url] if isinstance(start_url, str) else list(start_url),
                     rate=0, concurrency=8, timeout=2, retries=1)
    for k, v in overrides.items():
        setattr(cfg, k, v)
    store = Store(db_path)
    return run_scan(cfg, store, as_of=as_of), store


@pytest.fixture(scope="session")
def town_scan(tmp_path_factory):
    """One scan of the town site (tests/townsite.py) with default crawl flags, shared by the tests that only read
    it (its page set, findings, golden copy): (server, result, store). The server (a child process) is stopped
    once the scan is done: tests that count this process's children must not find it."""
    from townsite import TODAY, TownServer

    with TownServer() as srv:
        result, store = scan_site(srv.start_url, str(tmp_path_factory.mktemp("townsite") / "sw.db"), as_of=TODAY,
                                  timeout=5, retries=1)
    return srv, result, store


# --- the store on each database it supports --------------------------------------------------------------
BACKENDS = ["sqlite", "postgresql"]


def _pg_bindir() -> Path | None:
    """The folder of the PostgreSQL server binaries (initdb, pg_ctl): on PATH or Debian's versioned folder."""
    import glob
    import shutil

    found = shutil.which("pg_ctl")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += [Path(d) for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(
        Path(d).parent.name) if Path(d).parent.name.isdigit() else 0, reverse=True)]
    return next((d for d in candidates if (d / "initdb").exists() and (d / "pg_ctl").exists()), None)


class PgCluster:
    """A throwaway PostgreSQL cluster on a loopback port; ``database()`` makes a fresh database per test."""

    def __init__(self, bindir: Path):
        import os
        import pwd
        import socket
        import subprocess
        import tempfile

        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="sitewatch-pg-"))
        self.prefix: list[str] = []
        if os.geteuid() == 0:                 # initdb refuses to run as root: the cluster belongs to postgres
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("PostgreSQL tests run as root need the 'postgres' user (created by the postgresql package)")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        data = self.root / "data"
        self._run(bindir / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        self._run(bindir / "pg_ctl", "-D", data, "-l", self.root / "log", "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c synchronous_commit=off -c full_page_writes=off", "start")
        self.data = data
        self.n = 0
        self.subprocess = subprocess

    def _run(self, *cmd) -> None:
        import subprocess

        out = subprocess.run([*self.prefix, *map(str, cmd)], capture_output=True, text=True, timeout=120,
                             cwd=self.root)                 # the postgres user may not enter the checkout
        if out.returncode:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"{cmd[0]} failed: {out.stdout}{out.stderr}{log}")

    def url(self, name: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def database(self) -> str:
        import psycopg

        self.n += 1
        name = f"sitewatch_test_{self.n}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        import shutil

        try:
            self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster():
    import os

    bindir = _pg_bindir()
    if bindir is None:
        why = "PostgreSQL server binaries not found (initdb, pg_ctl: apt-get install postgresql)"
        if os.environ.get("SITEWATCH_TEST_POSTGRES") == "required":        # CI: never skipped there
            pytest.fail(why)
        pytest.skip(why)
    cluster = PgCluster(bindir)
    yield cluster
    cluster.stop()


@pytest.fixture(params=BACKENDS)
def store_db(request, tmp_path) -> str:
    """A database for a store: an SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "sitewatch.db")
    return request.getfixturevalue("pg_cluster").database()


# --- Redis (the fleet's broker and shared politeness budget) ---------------------------------------------------
class RedisServer:
    """A throwaway ``redis-server`` on a loopback port, no persistence; ``url(n)`` names database ``n`` (0-15)."""

    def __init__(self, binary: str):
        import socket
        import subprocess
        import tempfile
        import time

        self.root = Path(tempfile.mkdtemp(prefix="sitewatch-redis-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        # daemonized, as pg_ctl starts PostgreSQL: not a child of the test process (tests count their children)
        self.pidfile = self.root / "redis.pid"
        subprocess.run(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root), "--protected-mode", "no", "--loglevel", "warning", "--daemonize", "yes",
             "--pidfile", str(self.pidfile), "--logfile", str(self.root / "log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=30)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
                self.stop()
                raise RuntimeError(f"redis-server did not start: {log}")
            time.sleep(0.05)

    def url(self, n: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{n}"

    def flush(self) -> None:
        import socket

        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as c:
            c.sendall(b"FLUSHALL\r\n")
            c.recv(16)

    def kill(self, sig: int = 9, wait: float = 10) -> None:
        """Send ``sig`` (SIGKILL: the server dies at once) and wait until the process is gone."""
        import os
        import signal
        import time

        try:
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):          # gone (or never started)
            pass

    def stop(self) -> None:
        import shutil
        import signal

        self.kill(signal.SIGTERM)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server():
    """One redis-server per test process (pytest-xdist worker). Skipped, with the reason, only when the server
    binary is missing and CI does not require it (``SITEWATCH_TEST_REDIS=required``)."""
    import os
    import shutil

    binary = shutil.which("redis-server")
    if binary is None:
        why = "redis-server not found (apt-get install redis-server): the fleet tests need it"
        if os.environ.get("SITEWATCH_TEST_REDIS") == "required":
            pytest.fail(why)
        pytest.skip(why)
    server = RedisServer(binary)
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    """An empty Redis for one test (the server's data flushed first)."""
    redis_server.flush()
    return redis_server.url(0)
