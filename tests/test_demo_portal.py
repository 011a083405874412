"""The demo portal: deterministic build, a consistent manifest, and every behaviour over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections import deque
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from sitewatch.demo import build_portal, serve_portal
from sitewatch.demo.defects import GUIDE_ELEMENTS, HISTORY_MONTHS
from sitewatch.demo.run import verify
from sitewatch.demo.site import PREFIX, Portal
from sitewatch.listengines import gkmlpt, parse_listing
from sitewatch.models import Finding


@pytest.fixture(scope="module")
def portal() -> Portal:
    return build_portal()


@pytest.fixture()
def server(portal: Portal):
    with serve_portal(portal) as srv:
        yield srv


def _text(portal: Portal, path: str) -> str:
    route = portal.routes[path]
    ctype = route.headers.get("Content-Type", "")
    enc = ctype.split("charset=")[-1] if "charset=" in ctype else None
    if enc is None:
        m = re.search(rb'charset=([\w-]+)', route.body[:600])
        enc = m.group(1).decode() if m else "gb18030"
    return route.body.decode(enc)


def _links(page_path: str, text: str) -> set[str]:
    out = set()
    for m in re.finditer(r'\s(?:href|src)="([^"]*)"', text):
        raw = m.group(1).replace("&amp;", "&")
        if raw.startswith(("#", "javascript:", "mailto:", "tel:", "data:", "{{")):
            continue
        out.add(raw if raw.startswith(("{", "http")) else urljoin(page_path, raw).split("#")[0])
    return out


# --- build -----------------------------------------------------------------------------------------------


def test_build_is_deterministic(portal: Portal) -> None:
    again = build_portal()
    assert again.routes == portal.routes
    assert again.expected == portal.expected
    json.dumps(portal.expected, ensure_ascii=False)


def test_build_does_not_depend_on_other_variants() -> None:
    a = build_portal(as_of=dt.date(2026, 11, 26), month_variant=-1)
    b = build_portal(as_of=dt.date(2026, 11, 26), month_variant=-1)
    assert a.routes == b.routes and a.expected == b.expected
    assert a.expected["as_of"] == "2026-10-26"


def test_size_at_scale_1(portal: Portal) -> None:
    assert 150 <= len(portal.html_paths()) <= 360
    assert 150 <= portal.expected["page_count"] <= 360


def test_scale_15_has_about_3000_pages() -> None:
    big = build_portal(scale=15)
    assert 2500 <= len(big.html_paths()) <= 3500


def test_pages_carry_nav_footer_and_meta(portal: Portal) -> None:
    counts = []
    unmarked = {c["path"] for c in portal.expected["page_checks"]
                if c["rule"] == "identity.mark_missing" and c["expected"] == "found"}
    assert unmarked
    for path in portal.html_paths():
        if not path.startswith(PREFIX) or "/private/" in path:
            continue
        text = _text(portal, path)
        if "页面不存在" in text or 'http-equiv="refresh"' in text:
            continue
        assert f'<a href="{PREFIX}gkmlpt/index">' in text, path
        if path in unmarked:
            assert '<ul class="nav">' in text and "网站标识码" not in text and "ICP备" not in text, path
            assert "公网安备" not in text and "SiteIDCode" not in text, path
            continue
        assert 'name="SiteIDCode" content="4420000059"' in text, path
        assert '<ul class="nav">' in text and "网站标识码" in text, path
        counts.append(len(re.findall(r"<a\s[^>]*href=", text)))
    assert sum(counts) / len(counts) >= 25


def test_broken_targets_are_really_broken(portal: Portal) -> None:
    for entry in portal.expected["broken"]:
        target, reason = entry["path_or_url"], entry["reason"]
        assert entry["found_on"], target
        for page in entry["found_on"]:
            assert target in _links(page, _text(portal, page)), (target, page)
        if not target.startswith("/"):
            continue
        route = portal.resolve(target)
        if reason in ("404",):
            assert route is None, target
        elif reason == "500":
            assert route.status == 500
        elif reason == "timeout":
            assert route.delay > portal.expected["scan_timeout"]
        elif reason in ("loop", "redirect_to_404"):
            seen, path = [], target
            while route is not None and route.location and path not in seen:
                seen.append(path)
                path = route.location
                route = portal.resolve(path)
            assert (route is None) if reason == "redirect_to_404" else (path in seen)
        elif reason == "soft404":
            assert route.status == 200 and "<title>页面不存在</title>" in route.body.decode()
        elif reason == "deleted_stub":
            assert route.status == 200 and len(route.body) < 200 and b'content="0;URL=../"' in route.body


def test_manifest_covers_every_required_defect(portal: Portal) -> None:
    reasons = {e["reason"] for e in portal.expected["broken"]}
    assert {"404", "500", "timeout", "refused", "dns", "loop", "redirect_to_404", "soft404", "deleted_stub"} <= reasons
    targets = {e["path_or_url"] for e in portal.expected["broken"]}
    assert "{ext}/gone.html" in targets and f"{PREFIX}附件/不存在.pdf" in targets
    assert any(t.endswith(".pdf") for t in targets) and any(t.endswith(".jpg") for t in targets)
    assert any(t.startswith("/") and not t.startswith(PREFIX) for t in targets)


def test_not_broken_targets_exist(portal: Portal) -> None:
    reasons = {e["reason"] for e in portal.expected["not_broken"]}
    assert {"head_405", "429_once", "redirect_chain_ok", "waf_blip", "non_ascii_ok", "pseudo_link",
            "template_attribute", "template_placeholder", "hhref_typo", "fragment", "ipv6_proxy",
            "external_ok"} <= reasons
    for entry in portal.expected["not_broken"]:
        target = entry["path_or_url"]
        if target.startswith("/"):
            assert portal.resolve(target) is not None, target
        elif target.startswith("{ext}"):
            assert portal.resolve_ext(target[len("{ext}"):]) is not None, target


def test_columns_expected_verdicts(portal: Portal) -> None:
    got = {c["name"]: (c["category"], c["expected"]) for c in portal.expected["columns"]}
    assert got == {
        "工作动态": ("dynamic", "fresh"), "社区动态": ("dynamic", "fresh"), "党建动态": ("dynamic", "stale"),
        "通知公告": ("notice", "fresh"), "公示公告": ("notice", "stale"), "其他文件": ("notice", "stale"),
        "政策文件": ("notice", "fresh"), "政策解读": ("notice", "stale"), "人事信息": ("yearly", "fresh"),
        "规划计划": ("yearly", "long_stale"), "统计数据": ("unknown", "unknown"), "财政预决算": ("unknown", "unknown"),
        "政府信息公开年报": ("unknown", "unknown"), "政府信息公开指南": ("unknown", "unknown"),
        "专题专栏": ("unknown", "unknown"),
        "便民服务": ("unknown", "unknown"), "征集调查": ("unknown", "blank"), "在线访谈": ("unknown", "blank"),
        "政务动态": ("dynamic", "fresh"), "镇街文件": ("notice", "fresh"), "文件解读": ("notice", "fresh"),
        "部门预算决算": ("unknown", "unknown"), "政务要闻": ("dynamic", "fresh"),
    }
    assert portal.expected["homepage"] == "fresh"
    for col in portal.expected["columns"]:
        for page in col["pages"]:
            assert page in portal.routes, page


def test_list_realism(portal: Portal) -> None:
    tzgg = _text(portal, f"{PREFIX}tzgg/index.html")
    assert tzgg.index("[置顶]") < tzgg.index("<dd class=\"rq\">")
    gzdt = _text(portal, f"{PREFIX}gzdt/index.html")
    assert "createPageHTML(" in gzdt and "var countPage =" in gzdt
    assert 'href="index_1.html"' not in gzdt and f"{PREFIX}gzdt/index_1.html" in portal.routes
    shown_vs_url = re.findall(r'href="\./(\d{6})/t(\d{8})_\d+\.html".*?<span class="date">([\d-]+)</span>', gzdt)
    assert any(u != d.replace("-", "") for _, u, d in shown_vs_url)
    assert "<th>索引号</th>" in _text(portal, f"{PREFIX}zcwj/index.html")
    assert "暂无信息" in _text(portal, f"{PREFIX}zjdc/index.html")
    assert '<ul class="list">\n</ul>' in _text(portal, f"{PREFIX}zxft/index.html")
    assert "西区办规〔2026〕3号" in _text(portal, portal.expected["disclosures"][12]["path"])


def test_disclosures(portal: Portal) -> None:
    got = {(d["item"], d["year"], d.get("document")): d["expected"] for d in portal.expected["disclosures"]}
    assert got[("budget", 2026, None)] == "present"
    assert got[("final_accounts_sangong", 2025, None)] == "missing"
    assert got[("annual_report", 2025, None)] == "late"
    assert got[("guide", 2026, None)] == "present"
    assert got[("interpretation", 2026, "西区办规〔2026〕1号")] == "present"
    assert got[("interpretation", 2026, "西区办规〔2026〕3号")] == "missing"
    for d in portal.expected["disclosures"]:
        assert d["path"] in portal.routes
    report = next(d for d in portal.expected["disclosures"] if d["item"] == "annual_report" and d["year"] == 2025)
    assert "/t20260220_" in report["path"]


def test_site_is_reachable_from_the_start_url(portal: Portal) -> None:
    """Every sub-site page is reachable by following links (and JS pager counts), staying out of traps."""
    trap = [re.compile(t["pattern"]) for t in portal.expected["traps"]]
    start = portal.expected["start_url_path"]
    seen, queue = {start}, deque([start])
    reached: set[str] = set()
    while queue:
        path = queue.popleft()
        split = urlsplit(path)
        route = portal.resolve(split.path, split.query)
        if route is None or route.status != 200 or not route.content_type.startswith("text/html"):
            continue
        key = split.path + ("index.html" if split.path.endswith("/") else "")
        reached.add(key)
        body = route.body.decode("gb18030", errors="replace")
        links = _links(path, body) | _gkmlpt_links(portal, path, body)
        m = re.search(r"var countPage = (\d+)", body)
        if m:
            links |= {urljoin(path, f"index_{i}.html") for i in range(1, int(m.group(1)))}
        for link in links:
            if not link.startswith(PREFIX) or link.startswith(PREFIX + "private/") or ";" in link:
                continue
            if any(t.match(link) for t in trap) or link in seen:
                continue
            seen.add(link)
            queue.append(link)
    missing = {p for p in portal.html_paths() if p.startswith(PREFIX)} - reached
    missing = {p for p in missing if not p.startswith((PREFIX + "private/", PREFIX + "hdjl/"))}
    assert not missing, sorted(missing)[:10]


def _gkmlpt_links(portal: Portal, path: str, body: str) -> set[str]:
    """What a reader of the gkmlpt catalogue reaches: the article URLs of every API page of every leaf."""
    site = gkmlpt.discover(path, body) if "_CONFIG" in body else None
    if site is None:
        return set()
    out = set()
    for cat in site.leaves:
        pending, done = [gkmlpt.api_url(path, cat.id, 1, site.sid)], set()
        while pending:
            api = pending.pop()
            done.add(api)
            split = urlsplit(api)
            route = portal.resolve(split.path, split.query)
            listing = gkmlpt.parse_api(api, json.loads(route.body), cat.name)
            out |= {i.url for i in listing.items} | {a for i in listing.items for _, a in i.attachments}
            pending += [u for u in listing.page_urls if u not in done and u not in pending]
    return out


def test_month_variants_history() -> None:
    now, before = build_portal(), build_portal(month_variant=-1)
    b0 = {e["path_or_url"] for e in now.expected["broken"]}
    b1 = {e["path_or_url"] for e in before.expected["broken"]}
    hist = {h["path_or_url"]: h for h in now.expected["history"]}
    for target, h in hist.items():
        assert (target in b0) == (0 in h["broken_in"]), target
        assert (target in b1) == (-1 in h["broken_in"]), target
    kinds = {h["kind"] for h in hist.values()}
    assert kinds == {"persisting", "new", "fixed", "recurred"}
    assert b1 - b0 and b0 - b1 and b0 & b1
    recurred = [h for h in hist.values() if h["kind"] == "recurred"]
    assert recurred and all(h["status_by_variant"] == {"-3": "broken", "-2": "ok", "-1": "ok", "0": "broken"}
                            for h in recurred)
    fixed = [t for t, h in hist.items() if h["kind"] == "fixed"]
    for target in fixed:
        if target.startswith("/"):
            assert now.resolve(target).status == 200
            assert before.resolve(target) is None or before.resolve(target).status >= 400


# --- server ----------------------------------------------------------------------------------------------


def test_placeholders_filled(server) -> None:
    dumped = json.dumps(server.expected, ensure_ascii=False)
    assert "{ext}" not in dumped and "{refused}" not in dumped
    assert server.start_url == server.base_url + PREFIX
    home = httpx.get(server.start_url).text
    assert "{ext}" not in home and server.ext_url + "/ok.html" in home
    for entry in server.expected["broken"]:
        assert entry["url"].startswith(("http://", "https://"))
        assert all(u.startswith(server.base_url) for u in entry["found_on_urls"])


def test_head_405_but_get_200(server, portal: Portal) -> None:
    url = server.base_url + next(e for e in portal.expected["not_broken"] if e["reason"] == "head_405")["path_or_url"]
    with httpx.Client() as c:
        head = c.head(url)
        assert head.status_code == 405 and head.content == b""
        get = c.get(url)
        assert get.status_code == 200 and get.content.startswith(b"%PDF")


def test_429_once_then_200_and_reset(server, portal: Portal) -> None:
    url = server.base_url + next(e for e in portal.expected["not_broken"] if e["reason"] == "429_once")["path_or_url"]
    with httpx.Client() as c:
        first = c.get(url)
        assert first.status_code == 429 and first.headers["Retry-After"] == "1"
        assert c.get(url).status_code == 200
        server.reset()
        assert c.get(url).status_code == 429


def test_waf_blip_then_page(server, portal: Portal) -> None:
    url = server.base_url + next(e for e in portal.expected["not_broken"] if e["reason"] == "waf_blip")["path_or_url"]
    with httpx.Client() as c:
        first = c.get(url)
        assert first.status_code == 200 and first.content == b"\r\n"
        second = c.get(url)
        assert second.status_code == 200 and "<h1>" in second.text


def test_gbk_pages(server, portal: Portal) -> None:
    enc = portal.expected["encodings"]
    with httpx.Client() as c:
        r = c.get(server.base_url + enc["gbk_header_only"])
        assert "gbk" in r.headers["content-type"]
        with pytest.raises(UnicodeDecodeError):
            r.content.decode("utf-8")
        assert "政府信息公开工作年度报告" in r.content.decode("gbk")
        r = c.get(server.base_url + enc["gb2312_meta_only"])
        assert "charset" not in r.headers["content-type"] and b"charset=gb2312" in r.content
        assert "政府信息公开指南" in r.content.decode("gb2312")
        r = c.get(server.base_url + enc["gb18030_undeclared"])
        assert b"charset" not in r.content and "charset" not in r.headers["content-type"]
        with pytest.raises(UnicodeDecodeError):
            r.content.decode("utf-8")
        assert "西区" in r.content.decode("gb18030")


def test_redirects(server) -> None:
    with httpx.Client() as c:
        r = c.get(server.base_url + PREFIX + "loop/a.html")
        assert r.status_code == 302 and r.headers["location"] == server.base_url + PREFIX + "loop/b.html"
        with pytest.raises(httpx.TooManyRedirects):
            c.get(server.base_url + PREFIX + "loop/a.html", follow_redirects=True)
        r = c.get(server.base_url + PREFIX + "old/zwgk.html", follow_redirects=True)
        assert r.status_code == 404 and [h.status_code for h in r.history] == [301, 302]
        r = c.get(server.base_url + PREFIX + "xxgk.html", follow_redirects=True)
        assert r.status_code == 200 and [h.status_code for h in r.history] == [301, 302]


def test_error_behaviours(server) -> None:
    with httpx.Client() as c:
        assert c.get(server.base_url + PREFIX + "zwfw/bgxz.html").status_code == 500
        assert c.get(server.base_url + "/no/such/page.html").status_code == 404
        head = c.head(server.base_url + PREFIX)
        assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 1000
        assert c.get(server.base_url + "/xqbsc/附件/不存在.pdf").status_code == 404
        assert c.get(server.base_url + "/xqbsc/附件/2026年预算说明.pdf").status_code == 200
        assert c.get(server.ext_url + "/ok.html").status_code == 200
        assert c.get(server.ext_url + "/gone.html").status_code == 404
        assert c.get(server.ext_url + "/ipv6best/x7a72968723868/ok.html").status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            c.get(server.base_url + PREFIX + "zwfw/bsdt.html", timeout=0.5)
        with pytest.raises(httpx.ConnectError):
            c.get(server.refused_url + "/zfxxgk/index.html", timeout=2)


def test_robots_and_request_counting(server) -> None:
    with httpx.Client() as c:
        robots = c.get(server.base_url + "/robots.txt")
        assert robots.status_code == 200 and "Disallow: /xqbsc/private/" in robots.text
        for _ in range(3):
            c.get(server.start_url)
        c.head(server.start_url)
    assert server.requests[("GET", PREFIX)] == 3
    assert server.requests[("HEAD", PREFIX)] == 1
    assert ("GET", "/robots.txt") in server.requests
    assert server.expected["robots_disallowed"][0] not in server.requests.paths()


def test_traps_never_end(server) -> None:
    with httpx.Client() as c:
        url = server.base_url + PREFIX + "calendar?month=2026-11"
        for _ in range(5):
            nxt = re.search(r'href="(\?month=[\d-]+)">下一月', c.get(url).text).group(1)
            url = urljoin(url, nxt)
        assert url.endswith("month=2027-04")
        url = server.base_url + PREFIX + "a/"
        for _ in range(4):
            assert c.get(url).status_code == 200
            url = urljoin(url, "a/")
        assert url.endswith("/a/a/a/a/a/")
        page = c.get(server.base_url + PREFIX + "hdjl/index.html;jsessionid=0").text
        sid1 = re.search(r"jsessionid=(\w+)", page).group(1)
        page2 = c.get(server.base_url + PREFIX + f"hdjl/zxzx_1.html;jsessionid={sid1}").text
        assert re.search(r"jsessionid=(\w+)", page2).group(1) != sid1
        assert "?page=1001" in c.get(server.base_url + PREFIX + "search/?page=1000").text


def test_concurrent_keep_alive_load(server, portal: Portal) -> None:
    paths = [p for p in portal.html_paths() if p.startswith(PREFIX)][:200]
    errors: list[str] = []

    def worker(k: int) -> None:
        with httpx.Client(timeout=10) as c:
            for p in paths[k::50] * 4:
                r = c.get(server.base_url + p)
                if r.status_code not in (200, 429):
                    errors.append(f"{p} {r.status_code}")

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(server.requests.values()) >= 800
    assert time.monotonic() - t0 < 30


# --- platform sections and page-level checks -------------------------------------------------------------


def _json(portal: Portal, path_query: str) -> dict:
    split = urlsplit(path_query)
    route = portal.resolve(split.path, split.query)
    assert route is not None and route.status == 200 and route.content_type.startswith("application/json")
    return json.loads(route.body)


def test_gkmlpt_index_is_javascript_only(portal: Portal) -> None:
    index = PREFIX + "gkmlpt/index"
    text = _text(portal, index)
    main = text.split('<div class="main">', 1)[1]
    assert "window._CONFIG" in text and "<li" not in main.split("<script", 1)[0]
    site = gkmlpt.discover("http://demo" + index, text)
    assert site is not None and site.sid == portal.expected["gkmlpt"]["sid"]
    assert site.prefix == "http://demo/xqbsc"
    leaves = {str(c.id): c.name for c in site.leaves}
    assert set(leaves) == set(portal.expected["gkmlpt"]["leaves"])
    assert {"政务动态", "镇街文件", "文件解读", "部门预算决算"} == set(leaves.values())
    assert PREFIX + "gkmlpt/guide" in _links(index, text) and PREFIX + "gkmlpt/guide" in portal.routes


def test_gkmlpt_api_pages_and_articles(portal: Portal) -> None:
    sid = portal.expected["gkmlpt"]["sid"]
    cols = {c["name"]: c for c in portal.expected["columns"] if c.get("platform") == "gkmlpt"}
    assert max(len(c["api_pages"]) for c in cols.values()) >= 2
    for name, col in cols.items():
        cat = col["path"].rsplit("#", 1)[1]
        api = gkmlpt.api_url("http://demo" + PREFIX + "gkmlpt/index", cat, 1, sid)
        assert urlsplit(api).path + "?" + urlsplit(api).query == col["api_pages"][0]
        items = []
        for page in col["api_pages"]:
            data = _json(portal, page)
            assert data["classify"]["post_count"] == col["items"] and data["page_size"] == 10
            listing = gkmlpt.parse_api("http://demo" + page, data, name)
            assert len(listing.page_urls) == len(col["api_pages"]) - 1
            items += listing.items
        assert len(items) == col["items"] and all(i.date for i in items)
        assert max(i.date for i in items).isoformat() == col["newest"]
        for item in items:
            path = urlsplit(item.url).path
            assert re.fullmatch(r"/xqbsc/gkmlpt/content/\d+/\d+/post_\d+\.html", path), path
            assert portal.routes[path].status == 200
            for _, att in item.attachments:
                assert urlsplit(att).path in portal.routes
    raw = _json(portal, cols["政务动态"]["api_pages"][0])["articles"][0]
    assert isinstance(raw["date"], int) and "display_publish_time" in _json(portal, cols["镇街文件"]["api_pages"][0])["articles"][0]
    assert any(i.get("document_number") for i in _json(portal, cols["镇街文件"]["api_pages"][0])["articles"])
    # other parameter order works; a wrong sid or an unknown category does not
    cat = cols["政务动态"]["path"].rsplit("#", 1)[1]
    assert portal.resolve(f"{PREFIX}gkmlpt/api/all/{cat}", f"sid={sid}&page=2").status == 200
    assert portal.resolve(f"{PREFIX}gkmlpt/api/all/{cat}", "page=1&sid=1").status == 404
    assert portal.resolve(f"{PREFIX}gkmlpt/api/all/999", f"page=1&sid={sid}").status == 404


def test_gkmlpt_only_disclosure_has_no_static_link(portal: Portal) -> None:
    only = [d for d in portal.expected["disclosures"] if d.get("only_in") == "gkmlpt"]
    assert only and all(d["expected"] == "present" for d in only)
    for d in only:
        target = d["interpretation_path"]
        assert "/gkmlpt/content/" in target and target in portal.routes
        assert d["document"] in _text(portal, d["path"])
        for path in portal.html_paths():
            if "/gkmlpt/" not in path:
                assert target not in _links(path, _text(portal, path)), path


@pytest.mark.parametrize("variant", HISTORY_MONTHS)
def test_platform_columns_fresh_in_every_month(variant: int) -> None:
    p = build_portal(month_variant=variant)
    got = {c["name"]: c["expected"] for c in p.expected["columns"] if c.get("platform")}
    assert got == {"政务动态": "fresh", "镇街文件": "fresh", "文件解读": "fresh", "部门预算决算": "unknown",
                   "政务要闻": "fresh"}
    assert any(len(c["api_pages"]) >= 2 for c in p.expected["columns"] if c.get("platform") == "gkmlpt")
    assert any(d.get("only_in") == "gkmlpt" for d in p.expected["disclosures"])


def test_hanweb_datastore_column(portal: Portal) -> None:
    col = next(c for c in portal.expected["columns"] if c.get("platform") == "hanweb")
    text = _text(portal, col["pages"][0])
    assert '<script type="text/xml"><datastore>' in text and "<record><![CDATA[" in text
    assert "<li" not in re.sub(r"<script type=\"text/xml\">.*?</script>", "", text, flags=re.S).split('<div class="main">')[1]
    listing = parse_listing("http://demo" + col["pages"][0], text)
    assert listing is not None and listing.engine == "hanweb" and listing.column_name == col["name"]
    assert len(listing.items) == col["items"] and max(i.date for i in listing.items).isoformat() == col["newest"]
    for item in listing.items:
        assert portal.routes[urlsplit(item.url).path].status == 200


def _checks(portal: Portal, rule: str, expected: str = "found") -> list[dict]:
    return [c for c in portal.expected["page_checks"] if c["rule"] == rule and c["expected"] == expected]


def test_page_checks_manifest(portal: Portal) -> None:
    checks = portal.expected["page_checks"]
    assert {c["rule"] for c in checks} == set(portal.expected["page_check_rules"])
    for rule in portal.expected["page_check_rules"]:
        assert _checks(portal, rule, "found") and _checks(portal, rule, "not_found"), rule
    for c in checks:
        assert c["expected"] in ("found", "not_found", "any")
        for path in [c["path"], *c.get("also_on", [])]:
            assert portal.routes[path].status == 200, path
    for c in _checks(portal, "identity.mark_missing", "not_found"):
        assert "网站标识码" in _text(portal, c["path"])


def test_message_board(portal: Portal) -> None:
    snap = portal.snapshot
    [unanswered] = _checks(portal, "interaction.unanswered")
    asked = dt.date.fromisoformat(unanswered["asked"])
    assert 92 < (snap - asked).days < 365
    text = _text(portal, unanswered["path"])
    assert "未回复" in text and f"留言时间</th><td>{asked.isoformat()}" in text
    listing = _text(portal, unanswered["also_on"][0])
    assert "留言时间" in listing and "回复时间" in listing and "状态" in listing
    [slow] = _checks(portal, "interaction.slow_reply")
    assert slow["working_days"] > 5 and f"回复时间</th><td>{slow['replied']}" in _text(portal, slow["path"])
    for ok in _checks(portal, "interaction.slow_reply", "not_found"):
        assert ok.get("working_days") is None or ok["working_days"] <= 5
    for ok in _checks(portal, "interaction.unanswered", "not_found"):
        assert (snap - dt.date.fromisoformat(ok["asked"])).days <= 2


def test_service_guides(portal: Portal) -> None:
    for c in _checks(portal, "service.guide_incomplete"):
        text = _text(portal, c["path"])
        assert len(c["missing"]) >= 4 and "办事指南" in text
        assert all(f"<th>{e}</th>" not in text for e in c["missing"])
    complete = [c for c in _checks(portal, "service.guide_incomplete", "not_found") if "/bszn/" in c["path"]]
    assert len(complete) == 1
    text = _text(portal, complete[0]["path"])
    assert all(f"<th>{e}</th>" in text for e in GUIDE_ELEMENTS) and len(GUIDE_ELEMENTS) == 10
    bmfw = _text(portal, f"{PREFIX}bmfw/index.html")
    assert "办事指南</a>" not in bmfw.split('<div class="main">')[1].split('<div class="bs_more">')[0]


def test_security_plants(portal: Portal) -> None:
    [mis] = _checks(portal, "security.misstatement")
    assert mis["wrong"] in _text(portal, mis["path"]) and mis["right"] not in _text(portal, mis["path"])
    [ok] = _checks(portal, "security.misstatement", "not_found")
    assert mis["right"] in _text(portal, ok["path"]) and mis["wrong"] not in _text(portal, ok["path"])
    [hidden] = _checks(portal, "security.hidden_link")
    text = _text(portal, hidden["path"])
    assert re.search(r'<div style="display:none"><a href="\{ext\}/casino\.html">', text)
    assert portal.resolve_ext("/casino.html").status == 200
    assert hidden["target"] in {e["path_or_url"] for e in portal.expected["not_broken"]}
    [dup] = _checks(portal, "security.duplicate_content")
    a, b = dup["path"], dup["also_on"][0]

    def body(path: str) -> str:
        return re.search(r'<div class="view TRS_Editor">(.*?)</div>', _text(portal, path), re.S).group(1)

    assert a != b and a.split("/")[2] != b.split("/")[2]
    assert body(a) == body(b) and len(re.sub(r"<[^>]+>|\s", "", body(a))) >= 300
    for c in portal.expected["page_checks"]:
        if c["rule"] != "security.duplicate_content" and c["expected"] != "any" and c["path"] not in (a, b):
            assert len(re.sub(r"<[^>]+>|\s", "", body(c["path"]) if "TRS_Editor" in _text(portal, c["path"]) else "")) < 300


def _finding(rule: str, url: str, found_on: list[str] | None = None) -> Finding:
    return Finding(rule=rule, severity="warn", url=url, message="", found_on=found_on or [])


def test_verify_page_checks(portal: Portal) -> None:
    base = "http://demo.test"
    expected = json.loads(json.dumps(portal.expected).replace("{ext}", "http://ext.test")) | {"base_url": base}
    ok, lines = verify(expected, [])
    assert any("page checks" in line and "skipped" in line for line in lines)
    assert not any(line.startswith("  PAGE") for line in lines)
    planted = []
    for c in expected["page_checks"]:
        if c["expected"] != "found":
            continue
        if c["rule"] == "security.hidden_link":
            planted.append(_finding(c["rule"], c["target"], [base + c["path"]]))
        else:
            planted.append(_finding(c["rule"], base + (c.get("also_on") or [c["path"]])[-1]))
    _, lines = verify(expected, planted)
    total = sum(1 for c in expected["page_checks"] if c["expected"] != "any")
    assert f"page checks: {total} of {total} judged as planted, 0 reported on pages not listed" in lines
    wrong = planted[1:] + [_finding("identity.mark_missing", base + PREFIX + "index.html"),
                           _finding("security.misstatement", base + PREFIX + "lxwm.html")]
    ok, lines = verify(expected, wrong)
    assert not ok
    page_lines = [line for line in lines if line.startswith("  PAGE")]
    assert len(page_lines) == 3, page_lines
    assert any("expected found, found nothing" in line for line in page_lines)
    assert any(f"{PREFIX}index.html: expected not_found, reported" in line for line in page_lines)
    assert any("lxwm.html: reported, but no page check names it" in line for line in page_lines)
    # a site-wide finding names its example pages in found_on
    [unmarked] = [c for c in expected["page_checks"] if c["rule"] == "identity.mark_missing" and c["expected"] == "found"]
    stub = next(c["path"] for c in expected["page_checks"] if c["rule"] == "identity.mark_missing"
                and c["expected"] == "any")
    aggregate = _finding("identity.mark_missing", base + stub, [base + stub, base + unmarked["path"]])
    ok, lines = verify(expected, [f for f in planted if f.rule != "identity.mark_missing"] + [aggregate])
    assert not any(line.startswith("  PAGE") for line in lines), lines
