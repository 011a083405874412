"""robots.txt as a standard-following crawler reads it (RFC 9309, Protego): the rules urllib.robotparser got wrong,
and what an unavailable robots.txt means. Each case on a loopback site, with its must-not-skip twin."""

from __future__ import annotations

import asyncio

from conftest import scan_site
from loopback import Answer, LoopbackSite, page, refused_port

from sitewatch.crawl.politeness import Politeness
from sitewatch.scan import findings_document
from sitewatch.store import TargetRow


def robots(text: str, status: int = 200) -> Answer:
    return Answer(status, text, content_type="text/plain")


def site_routes(robots_answer: Answer | None, extra_links: str = "") -> dict[str, Answer]:
    links = ('<a href="a/ok.html">允许</a> <a href="a/no.html">禁止</a> <a href="f/x.pdf">附件</a> '
             '<a href="f/x.pdfx">非附件</a>' + extra_links)
    routes = {"/s/": Answer(body=page("首页", links)),
              "/s/a/ok.html": Answer(body=page("允许", "正文")), "/s/a/no.html": Answer(body=page("禁止", "正文")),
              "/s/f/x.pdf": Answer(body=b"%PDF-1.4", content_type="application/pdf"),
              "/s/f/x.pdfx": Answer(body=page("非附件", "正文"))}
    if robots_answer is not None:
        routes["/robots.txt"] = robots_answer
    return routes


def verdicts(store, scan_id) -> dict[str, tuple[str, str]]:
    with store.engine.connect() as c:
        return {r.url.split("/", 3)[3]: (r.verdict, r.reason) for r in
                c.execute(TargetRow.select().where(TargetRow.c.scan_id == scan_id))}


RULES = "User-agent: *\nDisallow: /s/a/\nAllow: /s/a/ok.html\nDisallow: /*.pdf$\n"


def test_allow_inside_a_disallowed_folder_and_wildcards(tmp_path):
    with LoopbackSite(site_routes(robots(RULES))) as site:
        result, store = scan_site(site.url("/s/"), str(tmp_path / "sw.db"))
    v = verdicts(store, result.scan_id)
    assert v["s/a/ok.html"][0] == "ok"                   # the later, longer Allow wins (robotparser: disallowed)
    assert v["s/a/no.html"] == ("skipped", "robots")
    assert v["s/f/x.pdf"] == ("skipped", "robots")        # `$` anchors the end
    assert v["s/f/x.pdfx"][0] == "ok"                    # ... so this one is allowed
    cut = findings_document(store, result.scan_id)["scan"]["coverage"]["cuts"]["robots"]
    assert cut["count"] == 2


def test_missing_robots_txt_means_no_rules(tmp_path):
    with LoopbackSite(site_routes(None)) as site:           # 404
        result, store = scan_site(site.url("/s/"), str(tmp_path / "sw.db"))
    assert all(verdict == "ok" for verdict, _ in verdicts(store, result.scan_id).values())


def test_robots_txt_answering_5xx_disallows_everything_and_says_why(tmp_path):
    with LoopbackSite(site_routes(robots("oops", 503))) as site:
        result, store = scan_site(site.url("/s/"), str(tmp_path / "sw.db"), retries=0)
        hits = site.hits("/s/")
    doc = findings_document(store, result.scan_id)
    assert hits == 0 and doc["scan"]["pages"] == 0
    with store.engine.connect() as c:
        detail = c.execute(TargetRow.select().where(TargetRow.c.url == site.url("/s/"))).first().detail
    assert "HTTP 503" in detail and "RFC 9309" in detail
    assert doc["scan"]["coverage"]["cuts"]["robots"]["count"] >= 1
    assert "scan.no_pages" in doc["summary"]                # no verdict without a measurement


def test_unreachable_host_is_broken_not_disallowed(tmp_path):
    dead = f"http://127.0.0.1:{refused_port()}/x.html"
    with LoopbackSite(site_routes(robots(RULES), f'<a href="{dead}">死链</a>')) as site:
        result, store = scan_site(site.url("/s/"), str(tmp_path / "sw.db"))
    with store.engine.connect() as c:
        row = c.execute(TargetRow.select().where(TargetRow.c.url == dead)).first()
    assert (row.verdict, row.reason) == ("broken", "refused")


def test_crawl_delay_slows_the_host():
    async def go():
        pol = Politeness(concurrency=2, rate=0)

        async def fetch_text(url):
            return 200, "User-agent: *\nCrawl-delay: 3\n"

        assert await pol.allowed("http://h/x", fetch_text)
        return pol.limiter("http://h").interval

    assert asyncio.run(go()) == 3.0
