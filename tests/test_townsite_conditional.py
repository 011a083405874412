"""The independent town site answers conditional requests like nginx in front of a static TRS portal, and a rescan of
it reuses the unchanged pages with the findings of the first scan and reads every page that changed.

A town site with a tenth of the big columns' documents (~1,000 pages) keeps this fast; bench/bench_rescan.py
measures the whole site.
"""

from __future__ import annotations

import sqlite3
import urllib.error
import urllib.request

from conftest import scan_site
from townsite import SITE, TODAY, TownServer, file_of

from sitewatch.scan import findings_document

SCALE = 0.1


def _get(url: str, headers: dict[str, str] | None = None, method: str = "GET"):
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def test_static_pages_answer_304_to_their_validators_and_200_after_a_change():
    with TownServer(in_process=True, scale=SCALE) as srv:
        site = srv.site
        assert 900 < len(site.expected_pages()) < 1200
        doc = site.columns["gzdt"].docs[7]
        url = srv.origin + doc.path
        status, body, headers = _get(url)
        etag, modified = headers["ETag"], headers["Last-Modified"]
        assert status == 200 and etag.startswith('"') and modified.endswith("GMT")
        assert _get(url, {"If-None-Match": etag})[0] == 304
        status, body304, headers304 = _get(url, {"If-Modified-Since": modified})
        assert status == 304 and body304 == b"" and headers304["ETag"] == etag
        assert _get(url, {"If-None-Match": '"other"', "If-Modified-Since": modified})[0] == 200   # ETag decides
        # a list page, an attachment and the home page are static files too
        for path in (site.columns["tzgg"].page_path(1), site.head405, SITE):
            status, _, h = _get(srv.origin + path)
            assert status == 200 and _get(srv.origin + path, {"If-None-Match": h["ETag"]})[0] == 304, path
        # dynamic answers carry no validators: the 404 page, a redirect, the soft-404 page, a HEAD refused
        assert _get(srv.origin + site.missing_attachment)[2].get("ETag") is None
        assert _get(srv.origin + site.soft404_path)[2].get("ETag") is None
        assert site.answer(SITE + "xxgk/")[0] == 301 and "ETag" not in site.answer(SITE + "xxgk/")[1]
        head = _get(srv.origin + site.head405, method="HEAD")
        assert head[0] == 405 and head[2].get("ETag") is None

        changed = srv.change([doc.path, site.columns["tzgg"].dir], seed=3)
        tz = site.columns["tzgg"]
        assert changed == sorted([url, srv.origin + tz.dir, srv.origin + tz.page_path(0)])
        assert site.changed == changed
        status, new_body, new_headers = _get(url, {"If-None-Match": etag, "If-Modified-Since": modified})
        assert status == 200 and new_headers["ETag"] != etag and new_headers["Last-Modified"] != modified
        assert len(new_body) > len(body) and b'class="revision"' in new_body and b"href" not in new_body.split(
            b'class="revision"', 1)[1].split(b"</p>", 1)[0]
        assert _get(url, {"If-None-Match": new_headers["ETag"]})[0] == 304
        # the draw: 5% of the static HTML files, folder URLs with their index.html
        urls = srv.change(0.05, seed=4)
        files = {file_of(u[len(srv.origin):]) for u in urls}
        assert len(files) == round(0.05 * len(site.changeable()))
        assert set(urls) <= site.expected_pages()


def test_a_town_server_without_validators_never_answers_304():
    with TownServer(in_process=True, scale=SCALE, conditional=False) as srv:
        status, _, headers = _get(srv.start_url, {"If-Modified-Since": "Sat, 01 Jan 2050 00:00:00 GMT"})
        assert status == 200 and headers.get("ETag") is None and headers.get("Last-Modified") is None


def _reused(db: str, scan_id: int) -> dict[str, str | None]:
    with sqlite3.connect(db) as c:
        return dict(c.execute("select url, reused from pages where scan_id = ?", (scan_id,)).fetchall())


def test_a_rescan_reuses_the_unchanged_pages_and_reads_every_changed_one(tmp_path):
    db = str(tmp_path / "sw.db")
    with TownServer(scale=SCALE) as srv:
        first, store = scan_site(srv.start_url, db, as_of=TODAY, timeout=5)
        srv.restart()                      # the planted transient failures fail once more
        second, store = scan_site(srv.start_url, db, as_of=TODAY, timeout=5)
        planted = srv.change(0.05, seed=11)
        # the monthly audit asks every page (the link cache off): every change is found
        third, store = scan_site(srv.start_url, db, as_of=TODAY, timeout=5, link_cache_days=0)
        full, full_store = scan_site(srv.start_url, str(tmp_path / "full.db"), as_of=TODAY, timeout=5)
        counts = srv.counts()["city"]
    s1, s2, s3 = first.stats, second.stats, third.stats
    assert s1.pages == s2.pages == s3.pages == full.stats.pages == len(srv.site.expected_pages())
    # the unchanged rescan: (nearly) every page reused, the findings of the first scan
    assert s2.reused >= 0.9 * s2.pages
    cond = s2.conditional
    assert cond["source_scan"] == first.scan_id and cond["changed"] == 0 and not cond["wrong_validators"]
    assert cond["not_modified"] + cond["cached"] > 0.9 * s2.pages and cond["canaries"] >= 1
    assert s2.bytes_received < 0.1 * s1.bytes_received
    assert counts["not_modified"] >= cond["not_modified"] + third.stats.conditional["not_modified"]
    first_findings = findings_document(store, first.scan_id)["findings"]
    assert first_findings and findings_document(store, second.scan_id)["findings"] == first_findings
    # after the change: every changed page crawled and read, the findings of a full scan of the changed site
    assert len(planted) >= 0.04 * s1.pages
    reused = _reused(db, third.scan_id)
    assert [u for u in planted if u not in reused or reused[u] is not None] == []
    assert s3.conditional["changed"] == len(planted)
    assert s3.reused == s3.pages - len(planted)
    assert findings_document(store, third.scan_id)["findings"] == findings_document(full_store, full.scan_id)["findings"]
