"""The demo's reports as their readers get them: printed by Chromium on A4 (page counts), read on a phone, and
read as text (HTML, XLSX, CSV) without machine words: no rule id, no exception class, no percent-encoded path.

Set SITEWATCH_REPORT_ARTIFACTS to a folder to keep the PDFs and screenshots (CI artifacts; never committed).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import shutil
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from sitewatch.cli import main
from sitewatch.crawl.verdict import message_zh
from sitewatch.models import DEDUCT, Finding
from sitewatch.packs import load_rules
from sitewatch.reporting.data import build_report, description, readable_message
from sitewatch.reporting.render import css_string, url_link
from sitewatch.rules.availability import unreachable_line
from sitewatch.store import Store
from sitewatch.urls import display_url, display_urls_in, short_url

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = os.environ.get("SITEWATCH_REPORT_ARTIFACTS")
MACHINE_COLUMNS = {"规则编号"}      # the CSV column that names the rule id for tools, on purpose (hidden in XLSX)
PAGE = re.compile(rb"/Type\s*/Page(?![s\w])")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("printdemo") / "out"
    assert main(["demo", "--out", str(out)]) == 0
    return out


def one(folder: Path, prefix: str, suffix: str) -> Path:
    [path] = [p for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(suffix)]
    return path


def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright not installed (the render extra)")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (CI installs it with apt)")
    return sync_api.sync_playwright()


def pdf_pages(page, html: Path, keep: str) -> int:
    page.goto(html.as_uri())
    data = page.pdf(format="A4")
    if ARTIFACTS:
        Path(ARTIFACTS).mkdir(parents=True, exist_ok=True)
        Path(ARTIFACTS, keep + ".pdf").write_bytes(data)
    return len(PAGE.findall(data))


def test_chromium_prints_the_summary_on_one_page_and_the_report_on_five_at_most(demo):
    problems = sum(1 for _ in csv.reader(one(demo, "整改报告", ".csv").open(encoding="utf-8-sig"))) - 1
    assert problems >= 40
    with browser() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = b.new_page()
            assert pdf_pages(page, one(demo, "领导摘要", ".html"), "summary") == 1
            assert pdf_pages(page, one(demo, "整改报告", ".html"), "rectification") <= 5
        finally:
            b.close()


def test_the_summary_fits_a_phone(demo):
    with browser() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = b.new_page(viewport={"width": 375, "height": 800})
            page.goto(one(demo, "领导摘要", ".html").as_uri())
            assert page.evaluate("document.documentElement.scrollWidth") <= 375      # nothing cut off at the right
            widths = page.evaluate("[...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().width)")
            assert len(widths) == 2 and all(0 < w <= 375 for w in widths)           # the charts scale down
            if ARTIFACTS:
                page.screenshot(path=str(Path(ARTIFACTS, "summary-375.png")), full_page=True)
        finally:
            b.close()


# ---------------------------------------------------------------- what a reader reads

def machine_words() -> re.Pattern[str]:
    ids = sorted({r.id for r in load_rules().rules} | {"veto.columns_stale", "scan.no_pages"}, key=len, reverse=True)
    return re.compile("|".join([*(re.escape(i) for i in ids), r"\b\w+Error\b", r"Exception", r"%E[0-9A-F]"]), re.I)


def visible_text(html: Path) -> str:
    soup = BeautifulSoup(html.read_text(encoding="utf-8"), "html.parser")
    for tag in soup(["style", "script"]):
        tag.decompose()
    return soup.get_text(" ")


def test_no_machine_words_in_any_rendered_report(demo):
    bad = machine_words()
    found: list[tuple[str, str]] = []
    htmls = sorted(demo.glob("*.html"))
    assert len(htmls) == 4
    for html in htmls:
        found += [(html.name, m.group()) for m in bad.finditer(visible_text(html))]
    for book in sorted(demo.glob("*.xlsx")):
        for ws in load_workbook(book):
            rows = list(ws.iter_rows(values_only=True))
            skip = {i for i in range(len(rows[0]) if rows else 0)       # hidden columns are for tools, not readers
                    if ws.column_dimensions[get_column_letter(i + 1)].hidden}
            for row in rows:
                found += [(f"{book.name}:{ws.title}", m.group()) for i, v in enumerate(row)
                          if i not in skip and isinstance(v, str) for m in bad.finditer(v)]
    for table in sorted(demo.glob("*.csv")):
        rows = list(csv.reader(table.open(encoding="utf-8-sig")))
        skip = {i for i, h in enumerate(rows[0]) if h in MACHINE_COLUMNS}
        found += [(table.name, m.group()) for row in rows for i, v in enumerate(row) if i not in skip
                  for m in bad.finditer(v)]
    assert not found, found[:20]


def test_links_keep_the_exact_url(demo):
    html = one(demo, "整改报告", ".html").read_text(encoding="utf-8")
    assert "%E9%99%84%E4%BB%B6/%E4%B8%8D%E5%AD%98%E5%9C%A8.pdf" in html      # the href: exact
    assert "附件/不存在.pdf" in visible_text(one(demo, "整改报告", ".html"))   # the text: as people read it
    ws = load_workbook(one(demo, "整改报告", ".xlsx"))["问题清单"]
    cells = [c for c in ws["D"] if isinstance(c.value, str) and "不存在.pdf" in c.value]
    assert cells and cells[0].hyperlink.target.endswith("%E4%B8%8D%E5%AD%98%E5%9C%A8.pdf")
    doc = (demo / "findings.json").read_text(encoding="utf-8")
    assert "%E9%99%84%E4%BB%B6/%E4%B8%8D%E5%AD%98%E5%9C%A8.pdf" in doc and "附件/不存在" not in doc


def test_deadlines_of_the_rows_agree_with_the_note_and_the_headings(demo):
    store = Store(str(demo / "sitewatch.db"))
    r = build_report(store, store.latest_scan())
    note = dict(re.findall(r"(?:^|；)([^；]+?) (\d+) 天", r.deadline_note))
    assert not machine_words().search(r.deadline_note)
    html = one(demo, "整改报告", ".html").read_text(encoding="utf-8")
    for p in r.problems:
        days = (dt.date.fromisoformat(p["deadline"]) - dt.date.fromisoformat(p["first_found"])).days
        assert days == p["deadline_days"], p
        said = note.get(p["type"]) or (note.get("其他单项否决") or note.get("单项否决")
                                       if p["severity"] == "veto" else note.get("其他"))
        assert said is not None and int(said) == days, (p["type"], p["severity"], r.deadline_note)
        heading = re.search(r'<tr class="group" data-rule="' + re.escape(p["rule"]) + r'">.*?</tr>', html, re.S)
        assert heading and f"首次发现起 {days} 天" in heading.group(), p["rule"]


def test_every_disclosure_found_names_what_was_found(demo):
    store = Store(str(demo / "sitewatch.db"))
    rows = build_report(store, store.latest_scan()).disclosures
    yes = [d for d in rows if d["found"] == "是"]
    assert len(yes) >= 4
    for d in yes:
        assert d["title"] and d["url"].startswith("http") and d["date"], d
        assert d["year"] or d["status"] == "已公开", d
    text = visible_text(one(demo, "整改报告", ".html")).split("三、必公开事项核对表")[1].split("四、回头看")[0]
    assert all(d["title"] in text and d["date"] in text for d in yes)


def test_the_summary_marks_overdue_priorities_as_the_report_does(demo):
    store = Store(str(demo / "sitewatch.db"))
    r = build_report(store, store.latest_scan())
    html = one(demo, "领导摘要", ".html").read_text(encoding="utf-8")
    items = re.findall(r'<li data-overdue="(true|false)">(.*?)</li>', html, re.S)
    assert [o == "true" for o, _ in items] == [p["overdue"] for p in r.top] and any(p["overdue"] for p in r.top)
    assert all(("已逾期" in text) == (o == "true") for o, text in items)
    svg = html.split("近 3 次监测趋势")[1]
    assert "2026-09" in svg and "2026-10" in svg and "2026-11" in svg          # year-month labels
    for p in r.trend:                                                           # the values on the marks
        assert f">{p['problems']}<" in svg and f">{p['score']:g}<" in svg


# ---------------------------------------------------------------- units

def test_display_url_decodes_only_what_is_safe_to_read():
    assert display_url("http://a.gov.cn/%E9%99%84%E4%BB%B6/x.pdf?q=%E4%B8%AD#%E4%B8%AD") == "http://a.gov.cn/附件/x.pdf?q=中#中"
    assert display_url("http://xn--fiqs8s.xn--io0a7i/") == "http://中国.网络/"                  # IDNA, Chinese
    assert display_url("http://xn--80ak6aa92e.com/") == "http://xn--80ak6aa92e.com/"           # look-alike script
    assert display_url("http://a/b%2Fc%20d%3F") == "http://a/b%2Fc%20d%3F"                     # ASCII stays encoded
    assert display_url("http://a/%E2%80%AEfdp.exe") == "http://a/%E2%80%AEfdp.exe"             # bidi override
    assert display_url("http://a/%EF%BC%8Fetc") == "http://a/%EF%BC%8Fetc"                     # a look-alike slash
    assert display_url("http://a/%C2%85x") == "http://a/%C2%85x"                               # a C1 control
    assert display_url("http://a/%E4%B8") == "http://a/%E4%B8"                                 # broken UTF-8
    assert display_url("http://a/\x1b[31m") == "http://a/\\x1b[31m"                            # made inert
    assert display_urls_in("所在页面：http://a/%E4%B8%AD；http://b/%E6%96%87") == "所在页面：http://a/中；http://b/文"
    assert short_url("http://a.gov.cn/xqbsc/" + "d/" * 30 + "x.html", 40) == "a.gov.cn/xqbsc/…/x.html"
    assert short_url("http://a.gov.cn/xqbsc/lxwm.html", 40, relative_to="http://a.gov.cn/xqbsc/") == "/xqbsc/lxwm.html"
    assert short_url("http://b.gov.cn/x.html", 40, relative_to="http://a.gov.cn/") == "b.gov.cn/x.html"


def test_url_link_and_css_string_stay_inert():
    link = str(url_link("http://a/%E4%B8%AD?x=<b>&y=\"1\""))
    assert 'href="http://a/%E4%B8%AD?x=&lt;b&gt;&amp;y=&#34;1&#34;"' in link and ">a/中?x=&lt;b&gt;" in link
    assert "href" not in str(url_link("javascript:alert(1)")) and "href" not in str(url_link("file:///etc/passwd"))
    footer = str(css_string('报告"; } body { display: none } </style><script>'))
    assert footer.startswith('"报告') and '"' not in footer[1:-1] and "<" not in footer and "}" not in footer


def test_errors_read_in_chinese():
    assert message_zh("timeout", "TimeoutError: ") == "链接无法访问：访问超时（服务器长时间无响应）"
    assert "robots" not in message_zh("something_new", "ValueError: x") and "Error" not in message_zh("x", "E")
    old = Finding("link.broken", DEDUCT, "http://a/", "链接无法访问：访问超时（TimeoutError: ）",
                  found_on=["http://a/b"], evidence={"error": "timeout", "detail": "TimeoutError: "})
    assert description(old) == "链接无法访问：访问超时（服务器长时间无响应）"
    assert readable_message("本次扫描无法访问站点首页：访问超时（TimeoutError: ）") == \
        "本次扫描无法访问站点首页：访问超时（服务器长时间无响应）"


def test_the_command_line_shows_urls_as_people_read_them():
    doc = {"findings": [{"rule": "availability.unreachable", "url": "http://a/%E9%A6%96%E9%A1%B5/",
                         "evidence": {"reason": "timeout"}}], "scan": {"pages": 0}}
    assert unreachable_line(doc) == "start URL http://a/首页/ unreachable: timed out"
