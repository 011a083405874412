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
from sitewatch.demo.portal import PREFIX, Portal


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
    assert 150 <= len(portal.html_paths()) <= 300
    assert 150 <= portal.expected["page_count"] <= 300


def test_scale_15_has_about_3000_pages() -> None:
    big = build_portal(scale=15)
    assert 2500 <= len(big.html_paths()) <= 3500


def test_pages_carry_nav_footer_and_meta(portal: Portal) -> None:
    counts = []
    for path in portal.html_paths():
        if not path.startswith(PREFIX) or "/private/" in path:
            continue
        text = _text(portal, path)
        if "页面不存在" in text or 'http-equiv="refresh"' in text:
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
        links = _links(path, body)
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
