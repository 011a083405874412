"""Golden findings: the findings JSON of three whole scans, compared with a stored copy.

A change of the code's structure must not change what a scan finds. Three sites are scanned on loopback:

* the demo portal (its first simulated month), compared in full;
* the independent town site (tests/townsite.py), compared in full;
* every real portal page in ../shared/real-pages served as one site; stored as digests only (rule, severity,
  path and a hash of each finding), since those pages and their text must not be copied into the repository.

Ports, timings and fingerprints (which hash the port) are masked. To accept a change of findings on purpose, run
``SITEWATCH_REGEN_GOLDEN=1 python -m pytest tests/test_golden.py`` and commit the new files with a CHANGELOG entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED, scan_site

from sitewatch.scan import findings_document

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
REGEN = os.environ.get("SITEWATCH_REGEN_GOLDEN") == "1"
REAL_PAGES = SHARED / "real-pages"
AS_OF = dt.date(2026, 11, 26)


def _masked(doc: dict[str, Any], hosts: dict[str, str]) -> dict[str, Any]:
    """The findings of a findings document with loopback origins replaced by names, fingerprints dropped."""
    text = json.dumps({"findings": doc["findings"], "coverage": doc["scan"]["coverage"]}, ensure_ascii=False)
    for origin, name in sorted(hosts.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(origin, name).replace(origin.split("://", 1)[1], name.split("://", 1)[1])
    text = re.sub(r"127\.0\.0\.\d+:\d+|\('127\.0\.0\.\d+', \d+\)", "LOOPBACK", text)
    masked = json.loads(text)
    for f in masked["findings"]:
        f.pop("fingerprint", None)
    # the scan lists findings by rule, url, fingerprint; with ports masked, sort on what is left
    masked["findings"].sort(key=lambda f: json.dumps(f, ensure_ascii=False, sort_keys=True))
    return {"summary": doc["summary"], "coverage": masked["coverage"], "findings": masked["findings"]}


def _compare(name: str, actual: dict[str, Any]) -> None:
    path = GOLDEN / name
    if os.environ.get("SITEWATCH_GOLDEN_DUMP"):       # a folder for the actual documents, to compare by hand
        Path(os.environ["SITEWATCH_GOLDEN_DUMP"], name).write_text(json.dumps(actual, ensure_ascii=False, indent=1))
    text = json.dumps(actual, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if REGEN or not path.exists():
        if not REGEN:
            pytest.fail(f"{path} is missing; run with SITEWATCH_REGEN_GOLDEN=1 to create it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    expected = json.loads(path.read_text(encoding="utf-8"))
    if expected != actual:
        assert expected["summary"] == actual["summary"]
        exp, act = expected["findings"], actual["findings"]
        for i, (e, a) in enumerate(zip(exp, act, strict=False)):
            assert e == a, f"finding {i} differs"
        assert len(exp) == len(act)
        assert expected == actual


def _coverage_without_timing(cov: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cov.items() if k not in ("seconds",)}


def test_demo_portal_findings_are_unchanged(tmp_path):
    from sitewatch.demo import build_portal
    from sitewatch.demo.run import DEMO_AS_OF, MONTHS, demo_config
    from sitewatch.demo.server import serve_portal
    from sitewatch.scan import run_scan
    from sitewatch.store import Store

    with serve_portal(build_portal(as_of=DEMO_AS_OF, month_variant=MONTHS[0])) as server:
        store = Store(str(tmp_path / "demo.db"))
        result = run_scan(demo_config(server), store, as_of=DEMO_AS_OF)
        doc = findings_document(store, result.scan_id)
        hosts = {server.base_url: "http://demo.test", server.ext_url: "http://external.test",
                 server.refused_url: "http://refused.test"}
    # the calendar trap: a query-variant cap admits whichever months the crawl meets first (their number is fixed)
    doc = json.loads(re.sub(r"calendar\?month=\d{4}-\d{2}", "calendar?month=M", json.dumps(doc, ensure_ascii=False)))
    actual = _masked(doc, hosts)
    actual["coverage"] = _coverage_without_timing(actual["coverage"])
    # which calendar months the cap admits decides their depth, so one month is cut as too deep in one run and as a
    # trap in another: the two kinds are compared as one (their sum and their non-calendar examples)
    cuts = actual["coverage"].get("cuts") or {}
    deep, trap = cuts.pop("max_depth", None), cuts.pop("trap", None)
    if deep or trap:
        cuts["max_depth+trap"] = {
            "count": sum(c["count"] for c in (deep, trap) if c),
            "examples": sorted(e for c in (deep, trap) if c for e in c["examples"] if "calendar?" not in e)}
    _compare("demo-findings.json", actual)


def test_town_site_findings_are_unchanged(town_scan):
    srv, result, store = town_scan          # the scan test_townsite.py checks against the site model (conftest)
    doc = findings_document(store, result.scan_id)
    origin = srv.start_url.split("/", 3)
    hosts = {"/".join(origin[:3]): "http://town.test"}
    _compare("townsite-findings.json", _masked(doc, hosts))


class _RealPages(BaseHTTPRequestHandler):
    """Serves ../shared/real-pages: a homepage linking every page, each page at its relative path."""

    files: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0]
        if path == "/":
            links = "".join(f'<li><a href="/{f}">{f}</a></li>' for f in self.files)
            body = f"<html><head><title>真实页面</title></head><body><ul>{links}</ul></body></html>".encode()
            self._send(200, body)
        elif path.lstrip("/") in self.files:
            self._send(200, (REAL_PAGES / path.lstrip("/")).read_bytes())
        else:
            self._send(404, b"<html><body>not here</body></html>")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def real_pages_site() -> Iterator[str]:
    if not REAL_PAGES.is_dir():
        pytest.skip("../shared/real-pages is not present")
    files = sorted(str(p.relative_to(REAL_PAGES)) for p in REAL_PAGES.rglob("*.htm*"))
    handler = type("Handler", (_RealPages,), {"files": files})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_real_page_findings_are_unchanged(tmp_path, real_pages_site):
    result, store = scan_site(real_pages_site, str(tmp_path / "real.db"), as_of=AS_OF, max_depth=1)
    doc = findings_document(store, result.scan_id)
    masked = _masked(doc, {real_pages_site.rstrip("/"): "http://real.test"})
    digests = []
    for f in masked["findings"]:          # third-party text: only a digest of each finding is kept
        if f.get("internal") is False:
            continue        # a link off the site: its host never resolves in the tests (conftest.offline_names)
        canonical = json.dumps(f, ensure_ascii=False, sort_keys=True)
        url = f.get("url") or ""
        digests.append({"rule": f["rule"], "severity": f["severity"], "url": url.replace("http://real.test", ""),
                        "digest": hashlib.sha256(canonical.encode()).hexdigest()[:16]})
    cuts = {kind: cut["count"] for kind, cut in (masked["coverage"].get("cuts") or {}).items()}
    _compare("realpages-findings.json", {"summary": masked["summary"], "coverage": cuts, "findings": digests})
