"""What the console tests share: a store made by a real scan of a small loopback site with hostile text (a page
titled ``<script>``, a link whose URL and text break out of an attribute, a ``javascript:`` URL), its accounts (one
per role, two units), and signing in through the form as a browser does."""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the console extra is not installed (pip install \"sitewatch[console]\")")
pytest.importorskip("argon2", reason="the console extra is not installed (pip install \"sitewatch[console]\")")

# Starlette's test client asks for httpx2, the successor of httpx; httpx still works and is what the suite has
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")

import httpx  # noqa: E402
from conftest import scan_site  # noqa: E402
from loopback import Answer, LoopbackSite, page  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from sitewatch.console import accounts  # noqa: E402
from sitewatch.console.app import create_app  # noqa: E402
from sitewatch.console.audit import Actor  # noqa: E402
from sitewatch.models import DEDUCT, Finding  # noqa: E402

AS_OF = dt.date(2026, 11, 26)
EVIL_TITLE = "<script>alert(1)</script>"
EVIL_ATTR = '"><img src=x onerror=alert(2)>'
EVIL_JS = "javascript:alert(3)"
SITE = "<script>alert(4)</script>西区"           # the site's name, from its config
UNIT_A, UNIT_B = "党政办", "综合办"

PASSWORD = "Correct-horse-42"
USERS = {                                          # name → (role, unit)
    "admin": ("admin", None),
    "leader": ("leader", None),
    "assessor": ("assessor", None),
    "unit-a": ("unit", UNIT_A),
    "unit-b": ("unit", UNIT_B),
}


def hostile_routes() -> dict[str, Answer]:
    links = (f'<a href="evil.html">{html.escape(EVIL_TITLE)}</a><a href="gone-evil.html">{html.escape(EVIL_TITLE)}</a>'
             f'<a href="gone.html?q=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(2)%3E">{html.escape(EVIL_ATTR)}</a>'
             f'<a href="{EVIL_JS}">脚本</a><a href="missing.html">失效链接</a>')
    return {"/s/": Answer(body=page("首页", links)),
            "/s/evil.html": Answer(body=page(EVIL_TITLE, "<p>正文</p>")),
            "/s/gone-evil.html": Answer(404, page(EVIL_TITLE, "<p>页面不存在</p>"))}


PATH_EXAMPLES = {"name": "look.css", "key": "report-csv"}          # a route's path parameter, filled in; any other (an id, a seed): 1


def example_path(path: str, **values: str) -> str:
    """A route's path with its parameters filled in (``/spotcheck/{scan_id:int}/{seed:int}`` → ``/spotcheck/1/1``);
    ``values`` override the examples (e.g. a real fingerprint)."""
    given = {**PATH_EXAMPLES, **values}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: given.get(m.group(1), "1"), path)


def routes(app, **values: str):
    """(method, path, access) of every route of ``app``, its path parameters filled in (``example_path``)."""
    for route in app.routes:
        path = example_path(route.path, **values)
        for method in sorted(route.methods - {"HEAD"}):
            yield method, path, route.endpoint.access


# --- the browser tests (Playwright driving Debian's Chromium) --------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = os.environ.get("SITEWATCH_REPORT_ARTIFACTS")       # a folder for screenshots (CI artifacts)


def shot(page, name: str) -> None:
    """Keep a screenshot of ``page`` as console-NAME.png in SITEWATCH_REPORT_ARTIFACTS, if set (never in the repo)."""
    if ARTIFACTS:
        Path(ARTIFACTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(ARTIFACTS, f"console-{name}.png")), full_page=True)


def browser_sign_in(page, url: str, name: str) -> None:
    """Sign in as ``name`` through the form of the console at ``url``, in a browser page."""
    page.goto(url)
    assert page.url.endswith("/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(url)


def copy_db(src: Path, dest: Path) -> str:
    """A consistent copy of an SQLite store (WAL contents included)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dest) as b:
        a.backup(b)
    a.close()
    b.close()
    return str(dest)


def build(folder: Path) -> tuple[str, int]:
    """A store with one real scan of the hostile site (every finding of 党政办) plus one finding of 综合办 whose URL
    is ``javascript:``, and an account per entry of ``USERS``: (database path, scan id)."""
    db = str(folder / "sw.db")
    with LoopbackSite(hostile_routes()) as site:
        result, store = scan_site(site.url("/s/"), db, as_of=AS_OF, name=SITE, default_unit=UNIT_A)
    findings = store.findings(result.scan_id)
    assert findings, "the hostile site gives findings"
    findings.append(Finding("link.broken", DEDUCT, EVIL_JS, "链接无法访问", found_on=[site.url("/s/")],
                            extra={"unit": UNIT_B, "link_text": EVIL_ATTR}))
    store.save_findings(result.scan_id, findings)
    for name, (role, unit) in USERS.items():
        accounts.add_user(store.engine, name, role, unit, PASSWORD, Actor("cli:test"))
    store.engine.dispose()
    return db, result.scan_id


class Clock:
    """A clock tests move (``create_app(clock=…)``)."""

    def __init__(self, now: dt.datetime | None = None):
        self.now = now or dt.datetime(2026, 12, 1, 9, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += dt.timedelta(**kw)


def app_for(db: str, **kw):
    kw.setdefault("allowed_hosts", ["testserver"])
    return create_app(db, **kw)


def client(app, **kw) -> TestClient:
    kw.setdefault("base_url", "https://testserver")
    return TestClient(app, follow_redirects=False, **kw)


def csrf_of(text: str, action: str = "/login") -> str:
    """The CSRF value of the page's form posting to ``action``."""
    m = re.search(r'<form method="post" action="' + re.escape(action) + r'"[^>]*>\s*<input type="hidden" '
                  r'name="csrf" value="([^"]+)"', text)
    assert m, text[:500]
    return m.group(1)


def sign_in(c: TestClient, name: str, password: str = PASSWORD, next: str = "/"):
    """Sign in through the form, as a browser does; returns the POST's answer."""
    form = c.get("/login")
    assert form.status_code == 200, form.status_code
    return c.post("/login", data={"csrf": csrf_of(form.text), "username": name, "password": password, "next": next})


def signed_in(app, name: str, **kw) -> TestClient:
    c = client(app, **kw)
    r = sign_in(c, name)
    assert r.status_code == 303, (r.status_code, r.text[:300])
    return c


def session_cookie(c: TestClient) -> str | None:
    return c.cookies.get("__Host-sitewatch")


def page_csrf(c: TestClient) -> str:
    r = c.get("/account")
    assert r.status_code == 200, r.status_code
    return csrf_of(r.text, "/logout")


def start_serve(db: str, *args: str) -> tuple[subprocess.Popen, str]:
    """`sitewatch serve --port 0` in a child process; (process, its URL) once it answers."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen([sys.executable, "-m", "sitewatch", "serve", "--db", db, "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    m = re.search(r"console on (http://\S+/)", line)
    assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
    url = m.group(1)
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "login", timeout=2)
            return proc, url
        except httpx.TransportError:
            assert time.monotonic() < deadline and proc.poll() is None, "serve did not answer"
            time.sleep(0.1)


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out, err
