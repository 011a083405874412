"""The link cache ([crawl] link_cache_days, --link-cache-days): an external link or an attachment found ok by the
latest earlier completed scan of the site, measured less than N days ago, is not requested again; everything else
is. Asserted from the loopback servers' own request logs."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import scan_site
from loopback import Answer, LoopbackSite, page
from sqlalchemy import select, update

from sitewatch.cli import main
from sitewatch.crawl.linkcache import LinkCache
from sitewatch.scan import findings_document
from sitewatch.store import CachedTargetRow, ScanRow, Store, TargetRow

EXTERNAL_OK, EXTERNAL_GONE, EXTERNAL_ODD = "/ok.html", "/gone.html", "/odd.html"


def external() -> LoopbackSite:
    """Another site the portal links to: one page fine, one gone, one that answers 403 (a warning)."""
    return LoopbackSite({EXTERNAL_OK: Answer(body=page("外部网站", "正文")),
                         EXTERNAL_GONE: Answer(404, page("404 Not Found")),
                         EXTERNAL_ODD: Answer(403, page("Forbidden"))})


def portal(ext: LoopbackSite) -> LoopbackSite:
    links = "".join(f'<a href="{ext.url(p)}">外链{i}</a>' for i, p in enumerate((EXTERNAL_OK, EXTERNAL_GONE,
                                                                                   EXTERNAL_ODD)))
    return LoopbackSite({
        "/s/": Answer(body=page("首页", f'<a href="a.html">文章</a><a href="doc.pdf">附件</a>'
                                       f'<a href="missing.pdf">坏附件</a>{links}')),
        "/s/a.html": Answer(body=page("文章", "正文内容")),
        "/s/doc.pdf": Answer(body=b"%PDF-1.4 test", content_type="application/pdf"),
    })


def hits(site: LoopbackSite) -> dict[str, int]:
    return {p: n for p, n in ((path, site.hits(path)) for path in {pp for _, pp in site.requests}) if n}


def shape(store: Store, scan_id: int) -> list[tuple]:
    """A scan's findings as a report shows them (no ids or times)."""
    return sorted((f.rule, f.url, f.fingerprint, json.dumps(f.evidence, sort_keys=True, default=str))
                  for f in store.findings(scan_id))


def backdate(store: Store, scan_id: int, delta: dt.timedelta) -> dt.datetime:
    """Move a scan's start (the time its results count as measured) ``delta`` into the past; the new start."""
    with store.engine.begin() as c:
        started = c.execute(select(ScanRow.c.started_at).where(ScanRow.c.id == scan_id)).scalar_one() - delta
        c.execute(update(ScanRow).where(ScanRow.c.id == scan_id).values(started_at=started))
    return started


def test_a_rescan_within_the_age_reuses_ok_results_and_rechecks_the_rest(tmp_path):
    db = str(tmp_path / "s.db")
    with external() as ext, portal(ext) as site:
        first, store = scan_site(site.url("/s/"), db, link_cache_days=7)
        assert findings_document(store, first.scan_id)["scan"]["cache"]["reused"] == 0
        ext_before, site_before = hits(ext), hits(site)
        assert ext_before[EXTERNAL_OK] >= 1 and site_before["/s/doc.pdf"] >= 1
        second, store = scan_site(site.url("/s/"), db, link_cache_days=7)
        ext_after = {p: n - ext_before.get(p, 0) for p, n in hits(ext).items()}
        site_after = {p: n - site_before.get(p, 0) for p, n in hits(site).items()}
    # the ok external page and the ok attachment were not requested; the broken, the warning, the homepage (where
    # new articles would show) and the article (a finding names it: its fix must be seen at once) were
    assert ext_after.get(EXTERNAL_OK, 0) == 0 and site_after.get("/s/doc.pdf", 0) == 0
    assert ext_after[EXTERNAL_GONE] >= 1 and ext_after[EXTERNAL_ODD] >= 1 and site_after["/s/missing.pdf"] >= 1
    assert site_after["/s/"] >= 1 and site_after["/s/a.html"] >= 1
    # identical findings and target verdicts to the scan that measured everything
    assert shape(store, second.scan_id) == shape(store, first.scan_id) and shape(store, first.scan_id)
    with store.engine.connect() as c:
        def targets(sid):
            return sorted(c.execute(select(TargetRow.c.url, TargetRow.c.verdict, TargetRow.c.status)
                                    .where(TargetRow.c.scan_id == sid)).all())
        assert targets(second.scan_id) == targets(first.scan_id)
        cached = c.execute(select(CachedTargetRow).where(CachedTargetRow.c.scan_id == second.scan_id)).all()
    first_start = store.scan(first.scan_id).started_at
    assert sorted(r.url for r in cached) == sorted([ext.url(EXTERNAL_OK), site.url("/s/doc.pdf")])
    assert {(r.measured_at, r.measured_scan) for r in cached} == {(first_start, first.scan_id)}
    # counted: in the stats, the findings JSON and its requests
    assert second.stats.cached == 2 and second.stats.conditional["cached"] == 0
    doc = findings_document(store, second.scan_id)
    assert doc["scan"]["cache"] == {"max_age_days": 7, "reused": 2,
                                    "measured_from": first_start.isoformat(timespec="seconds"),
                                    "measured_to": first_start.isoformat(timespec="seconds"),
                                    "measured_by_scans": [first.scan_id]}
    assert doc["scan"]["checked"] == findings_document(store, first.scan_id)["scan"]["checked"]
    assert doc["scan"]["requests"] < findings_document(store, first.scan_id)["scan"]["requests"]


def test_the_age_boundary_is_measured_from_the_measuring_scans_start(tmp_path):
    """A result younger than N days is reused; one exactly N days old (or older) is checked again."""
    db = str(tmp_path / "s.db")
    with external() as ext, portal(ext) as site:
        first, store = scan_site(site.url("/s/"), db)
        start = store.scan(first.scan_id).started_at
        ok = {ext.url(EXTERNAL_OK), site.url("/s/doc.pdf")}
        day = dt.timedelta(days=1)
        tick = dt.timedelta(microseconds=1)
        assert set(LinkCache.load(store, "test", first.scan_id + 1, 7, now=start + 7 * day - tick).results) == ok
        assert LinkCache.load(store, "test", first.scan_id + 1, 7, now=start + 7 * day).results == {}
        assert LinkCache.load(store, "test", first.scan_id + 1, 7, now=start + 8 * day).results == {}
        assert set(LinkCache.load(store, "test", first.scan_id + 1, 1, now=start).results) == ok
        assert LinkCache.load(store, "test", first.scan_id + 1, 0, now=start).results == {}
        assert LinkCache.load(store, "test", first.scan_id, 7, now=start).results == {}     # only earlier scans
        assert LinkCache.load(store, "other site", first.scan_id + 1, 7, now=start).results == {}

        # a real rescan: just inside the age, the ok external page is reused; just past it, requested again
        backdate(store, first.scan_id, 7 * day - dt.timedelta(minutes=5))
        before = ext.hits(EXTERNAL_OK)
        inside, store = scan_site(site.url("/s/"), db, link_cache_days=7)
        assert ext.hits(EXTERNAL_OK) == before and inside.stats.cached == 2
        # the scan that reused it passes the first measurement on: its age is still the first scan's
        # ten minutes pass: the first measurement is now 7 days and 5 minutes old, the scan that reused it recent
        for sid in (first.scan_id, inside.scan_id):
            backdate(store, sid, dt.timedelta(minutes=10))
        with store.engine.begin() as c:
            for r in c.execute(select(CachedTargetRow)).all():
                c.execute(update(CachedTargetRow).where(CachedTargetRow.c.id == r.id)
                          .values(measured_at=r.measured_at - dt.timedelta(minutes=10)))
        past, store = scan_site(site.url("/s/"), db, link_cache_days=7)
        assert ext.hits(EXTERNAL_OK) == before + 1 and past.stats.cached == 0
        assert findings_document(store, past.scan_id)["scan"]["cache"]["reused"] == 0
        assert shape(store, past.scan_id) == shape(store, first.scan_id)


def test_zero_turns_the_cache_off_and_list_pages_never_come_from_it(tmp_path):
    db = str(tmp_path / "s.db")
    with external() as ext, portal(ext) as site:
        first, store = scan_site(site.url("/s/"), db)
        before = ext.hits(EXTERNAL_OK), site.hits("/s/doc.pdf"), site.hits("/s/a.html"), site.hits("/s/")
        again, store = scan_site(site.url("/s/"), db, link_cache_days=0)
        assert (ext.hits(EXTERNAL_OK), site.hits("/s/doc.pdf")) == (before[0] + 1, before[1] + 1)
        assert again.stats.cached == 0 and findings_document(store, again.scan_id)["scan"]["cache"]["reused"] == 0
        third, store = scan_site(site.url("/s/"), db)
        assert site.hits("/s/a.html") == before[2] + 2 and third.stats.cached == 2    # a page with findings
        assert site.hits("/s/") == before[3] + 2                     # the homepage, a list: always asked
    assert shape(store, again.scan_id) == shape(store, first.scan_id) == shape(store, third.scan_id)


def test_the_flag_the_summary_and_the_report_show_what_was_taken_from_the_cache(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    with external() as ext, portal(ext) as site:
        args = ["scan", site.url("/s/"), "--db", db, "--quiet", "--rate", "0", "--timeout", "2"]
        assert main(args) in (0, 1)
        capsys.readouterr()
        out_json = tmp_path / "f.json"
        assert main([*args, "--link-cache-days", "3", "--json", str(out_json)]) in (0, 1)
        out = capsys.readouterr().out
        assert "link cache: 2 external links and attachments not requested" in out and "within 3 days" in out
        doc = json.loads(out_json.read_text(encoding="utf-8"))
        assert doc["scan"]["cache"]["reused"] == 2 and doc["scan"]["cache"]["max_age_days"] == 3
        assert main([*args, "--link-cache-days", "-1"]) == 2
        assert "link_cache_days must be 0..366" in capsys.readouterr().err
    assert main(["report", "--db", db, "--scan", "2", "--out", str(tmp_path / "r")]) == 0
    html = next((tmp_path / "r").glob("*整改报告*.html")).read_text(encoding="utf-8")
    assert 'data-cached="2"' in html and "本次未重新请求" in html


def test_the_monthly_audit_rechecks_every_link_unless_configured():
    from sitewatch.config import SiteConfig
    from sitewatch.scheduler import audit_config

    cfg = SiteConfig(name="x", start_urls=["http://a/"], link_cache_days=5)
    assert audit_config(cfg).link_cache_days == 0 and cfg.link_cache_days == 5
    cfg.schedule = {"audit_link_cache": True}
    assert audit_config(cfg).link_cache_days == 5


@pytest.mark.parametrize("value", ["7", 1.5, True])
def test_link_cache_days_must_be_an_integer(tmp_path, value):
    from sitewatch.config import config_from_dict
    from sitewatch.errors import ConfigError

    with pytest.raises(ConfigError, match="link_cache_days"):
        config_from_dict({"site": {"start_urls": ["http://a/"]}, "crawl": {"link_cache_days": value}}, "x.toml")
