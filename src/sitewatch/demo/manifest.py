"""The demo portal's manifest (`Portal.expected`): what a correct scan of one simulated month must report.

Column categories follow the shipped rule packs' name keywords (dynamic 14 days, notice 183 days, yearly 365 days);
a column those keywords do not name is "unknown" and gets no freshness verdict. Column verdicts: fresh, stale
(dynamic/notice past the window, or no item dated at all), long_stale (yearly past 365 days), blank, unknown.

Manifest keys: as_of (the snapshot date), start_url_path, prefix, scan_timeout, page_count; broken and not_broken
(path_or_url, reason, found_on, note); columns (name, path, category, expected, newest, window_days, layout, items,
pages, js_pager_only, encoding, charset_in); homepage; disclosures (item, year, expected, path, evidence, document);
traps (kind, entry, pattern, found_on); robots_disallowed; outside_prefix (checked, never crawled); never_fetch;
encodings; history (per planted defect: kind persisting|new|fixed|recurred and the variants it is broken in);
gkmlpt (index, guide, SID, API shape, category tree); page_checks (rule, path, also_on, expected found|not_found|any)
and page_check_rules.

Placeholders in paths and URLs: `{ext}` is the base URL of the external host, `{refused}` the base URL of a
loopback port nobody listens on. The server fills them in when it starts.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any
from urllib.parse import urljoin

from sitewatch.demo.content import SiteContent
from sitewatch.demo.defects import (
    DUPLICATE_BODY,
    GUIDES,
    HISTORY_MONTHS,
    MISSTATEMENT_RIGHT,
    MISSTATEMENT_WRONG,
    PAGE_CHECK_RULES,
    Defect,
)
from sitewatch.demo.pages import JS_PAGER_FRAGMENT, PageWriter
from sitewatch.demo.platforms import gk_api_path, gk_pages
from sitewatch.demo.site import (
    BSZN,
    COLUMNS,
    GK_LEAF_CATEGORY,
    GK_PAGE_SIZE,
    GK_SID,
    GK_TREE,
    GKMLPT,
    HANWEB_COL,
    PREFIX,
    SITE_NAME,
    ZXLY,
    Route,
    ymd,
)

WINDOWS = {"dynamic": 14, "notice": 183, "yearly": 365}


def links_of(page_path: str, text: str) -> set[str]:
    """Link targets of a page's text: absolute paths, or URLs with a placeholder."""
    out = set()
    for m in re.finditer(r'\s(?:href|src)="([^"]*)"', text):
        raw = html.unescape(m.group(1)).strip()
        if not raw or raw.startswith(("#", "javascript:", "mailto:", "tel:", "data:", "{{")):
            continue
        if raw.startswith(("{ext}", "{refused}", "http://", "https://")):
            out.add(raw.split("#", 1)[0])
        else:
            out.add(urljoin(page_path, raw).split("#", 1)[0])
    return out


def found_on(html_by_path: dict[str, str]) -> dict[str, list[str]]:
    """Link target -> the crawlable pages under the prefix that link to it."""
    disallowed = PREFIX + "private/"
    index: dict[str, list[str]] = {}
    for path, text in sorted(html_by_path.items()):
        if not path.startswith(PREFIX) or path.startswith(disallowed):
            continue
        for link in links_of(path, text):
            index.setdefault(link, []).append(path)
    return index


def build_manifest(pages: PageWriter, defects: list[Defect], messages: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The manifest of one simulated month, once every page of it is written."""
    content = pages.content
    index = found_on(pages.html)

    def where(target: str) -> list[str]:
        return sorted(index.get(target, []))

    broken = [{"path_or_url": d.target, "reason": d.reason, "found_on": where(d.target), "note": d.note}
              for d in defects if d.broken(content.variant)]
    y = content.year
    sp = content.special
    not_broken = [
        {"path_or_url": sp["head405"], "reason": "head_405", "found_on": where(sp["head405"]),
         "note": "HEAD answers 405, GET 200"},
        {"path_or_url": sp["429"], "reason": "429_once", "found_on": where(sp["429"]),
         "note": "first request 429 with Retry-After: 1, then 200"},
        {"path_or_url": PREFIX + "xxgk.html", "reason": "redirect_chain_ok", "found_on": where(PREFIX + "xxgk.html"),
         "note": "301 -> 302 -> 200"},
        {"path_or_url": sp["waf"], "reason": "waf_blip", "found_on": where(sp["waf"]),
         "note": "first request a 2-byte body with 200, then the page"},
        {"path_or_url": f"{PREFIX}附件/{y}年预算说明.pdf", "reason": "non_ascii_ok",
         "found_on": where(f"{PREFIX}附件/{y}年预算说明.pdf")},
        {"path_or_url": "{ext}/ok.html", "reason": "external_ok", "found_on": where("{ext}/ok.html")},
        {"path_or_url": "{ext}/ipv6best/x7a72968723868/ok.html", "reason": "ipv6_proxy",
         "found_on": where("{ext}/ipv6best/x7a72968723868/ok.html"), "note": "proxy token differs per page"},
        {"path_or_url": "{ext}/ipv6best/x966fd3868/ok.html", "reason": "ipv6_proxy",
         "found_on": where("{ext}/ipv6best/x966fd3868/ok.html")},
        {"path_or_url": "/", "reason": "outside_prefix_ok", "found_on": where("/")},
        {"path_or_url": "/dyz/", "reason": "outside_prefix_ok", "found_on": where("/dyz/")},
        {"path_or_url": urljoin(sp["budget"], f"./P0{y}0318377102418843.XLS"), "reason": "uppercase_extension",
         "found_on": [sp["budget"]]},
        {"path_or_url": urljoin(sp["final"], f"./P0{y}0820330415563390.rar"), "reason": "archive_attachment",
         "found_on": [sp["final"]]},
        {"path_or_url": "javascript:void(0);", "reason": "pseudo_link", "found_on": ["(every article)"]},
        {"path_or_url": "javascript:;", "reason": "hhref_typo", "found_on": [PREFIX + "lxwm.html"],
         "note": '<a hhref="javascript:;"> is not a link'},
        {"path_or_url": "mailto:xqbsc@zs.gov.cn", "reason": "pseudo_link", "found_on": [PREFIX + "lxwm.html"]},
        {"path_or_url": "tel:0760-88776655", "reason": "pseudo_link", "found_on": [PREFIX + "lxwm.html"]},
        {"path_or_url": "data:text/plain;base64,5pqC5peg5L+h5oGv", "reason": "pseudo_link",
         "found_on": [PREFIX + "index.html"]},
        {"path_or_url": "data:image/gif;base64,R0lGODlhAQABAAAAACw=", "reason": "pseudo_link",
         "found_on": [PREFIX + "index.html"]},
        {"path_or_url": "share.sina", "reason": "template_attribute", "found_on": ["(every article)"],
         "note": 'ms-attr-href="share.sina"'},
        {"path_or_url": "logoutUrl", "reason": "template_attribute", "found_on": [PREFIX + "lxwm.html"]},
        {"path_or_url": "{{ item.url }}", "reason": "template_placeholder", "found_on": [PREFIX + "index.html"]},
        {"path_or_url": "#top", "reason": "fragment", "found_on": ["(every page)"]},
        {"path_or_url": JS_PAGER_FRAGMENT, "reason": "script_fragment", "found_on": ["(list pages with a pager)"],
         "note": "string concatenation inside the createPageHTML script"},
        {"path_or_url": "{ext}/casino.html", "reason": "hidden_link_target", "found_on": where("{ext}/casino.html"),
         "note": "answers 200: the hidden link is a page-check finding, not a broken link"},
    ]
    columns = []
    for col in COLUMNS:
        items = content.col_items(col.key)
        dated = [it.shown for it in items if it.shown]
        newest = max(dated) if dated else None
        if col.layout.startswith("blank"):
            verdict = "blank"
        elif col.category == "unknown":
            verdict = "unknown"
        elif newest is None:
            verdict = "stale"
        elif (content.snapshot - newest).days <= WINDOWS[col.category]:
            verdict = "fresh"
        else:
            verdict = "long_stale" if col.category == "yearly" else "stale"
        n_pages = max(1, -(-len(items) // col.per_page)) if items else 1
        entry = {"name": col.name, "path": f"{PREFIX}{col.key}/", "category": col.category, "expected": verdict,
                 "newest": ymd(newest) if newest else None,
                 "window_days": WINDOWS.get(col.category), "layout": col.layout, "items": len(items),
                 "pages": [f"{PREFIX}{col.key}/index.html"] + [f"{PREFIX}{col.key}/index_{p}.html"
                                                                for p in range(1, n_pages)],
                 "js_pager_only": col.js_pager_only, "encoding": col.encoding, "charset_in": col.charset_in}
        notes = []
        if items and items[0].pinned:
            notes.append("pinned old row on top")
        if col.layout == "undated":
            notes.append("no item carries a date anywhere: counts as not updated")
        if col.key == "djdt":
            notes.append("newest URL date is recent but its displayed date is not")
        if notes:
            entry["notes"] = notes
        columns.append(entry)
    columns += platform_columns(content)
    home_dates = [it.shown for key in ("gzdt", "tzgg", "zcwj", "sqdt") for it in content.col_items(key)[:7]
                  if it.shown]
    home_newest = max(home_dates)
    return {
        "as_of": ymd(content.snapshot),
        "month_variant": content.variant,
        "scale": content.scale,
        "site_name": SITE_NAME,
        "start_url_path": PREFIX,
        "prefix": PREFIX,
        "scan_timeout": 2,
        "page_count": len(html_under_prefix(pages.routes)),
        "broken": broken,
        "not_broken": not_broken,
        "columns": columns,
        "homepage": "fresh" if (content.snapshot - home_newest).days <= WINDOWS["dynamic"] else "stale",
        "homepage_newest": ymd(home_newest),
        "disclosures": disclosure_entries(content),
        "traps": [
            {"kind": "calendar", "entry": f"{PREFIX}calendar?month={content.snapshot:%Y-%m}",
             "pattern": r"^/xqbsc/calendar\?month=\d{4}-\d{2}$", "found_on": [PREFIX + "index.html"]},
            {"kind": "session_id", "entry": f"{PREFIX}hdjl/index.html;jsessionid=…",
             "pattern": r"^/xqbsc/hdjl/[^;]+;jsessionid=[0-9A-Z]+$", "found_on": [PREFIX + "index.html"],
             "note": "every link on these pages carries a new jsessionid"},
            {"kind": "repeating_segment", "entry": f"{PREFIX}a/", "pattern": r"^/xqbsc/a/(a/)+",
             "found_on": [PREFIX + "wzdt.html"], "note": "relative link a/ on a page served at any depth"},
            {"kind": "endless_query", "entry": f"{PREFIX}search/?page=1", "pattern": r"^/xqbsc/search/\?page=\d+$",
             "found_on": [PREFIX + "index.html", PREFIX + "wzdt.html"]},
        ],
        "robots_disallowed": [PREFIX + "private/neibu.html"],
        "outside_prefix": ["/", "/dyz/", "/zwgk/jgzn/xqbsc_old.html"],
        "never_fetch": [PREFIX + "private/neibu.html", "/zwgk/index.html", "/zmhd/index.html",
                        "/dyz/dyml/index.html"],
        "encodings": {
            "gbk_header_only": f"{PREFIX}ndbg/index.html",
            "gb2312_meta_only": f"{PREFIX}xxgkzn/index.html",
            "gb18030_undeclared": sp["gb18030_article"],
            "gbk_meta_only_outside": "/dyz/index.html",
        },
        "history": history(defects),
        "gkmlpt": {
            "index": GKMLPT + "index", "guide": GKMLPT + "guide", "sid": GK_SID, "page_size": GK_PAGE_SIZE,
            "api": GKMLPT + "api/all/<catId>?page=N&sid=" + GK_SID,
            "categories": {str(c): n for c, n, _ in GK_TREE},
            "leaves": [str(c) for c in GK_LEAF_CATEGORY],
        },
        "page_checks": page_checks(content, messages),
        "page_check_rules": list(PAGE_CHECK_RULES),
    }


def html_under_prefix(routes: dict[str, Route]) -> list[str]:
    return sorted(p for p, r in routes.items() if p.startswith(PREFIX) and r.status == 200
                  and r.content_type.startswith("text/html") and not p.startswith(PREFIX + "private/"))


def disclosure_entries(content: SiteContent) -> list[dict[str, Any]]:
    """Expected verdicts of the mandated disclosures (budgets, final accounts, report, guide, interpretations)."""
    y, sp = content.year, content.special
    return [
        {"item": "budget", "item_zh": "部门预算", "year": y, "expected": "present", "evidence": "title",
         "path": sp["budget"], "note": "title variant 部门预算及“三公”经费预算"},
        {"item": "budget_sangong", "item_zh": "“三公”经费预算", "year": y, "expected": "present",
         "evidence": "title+attachment", "path": sp["budget"]},
        {"item": "budget", "item_zh": "部门预算", "year": y - 1, "expected": "present", "evidence": "title",
         "path": sp["budget_prev"]},
        {"item": "budget_sangong", "item_zh": "“三公”经费预算", "year": y - 1, "expected": "present",
         "evidence": "attachment", "path": sp["budget_prev"],
         "note": "三公 appears only in an attachment name"},
        {"item": "final_accounts", "item_zh": "部门决算", "year": y - 1, "expected": "present", "evidence": "title",
         "path": sp["final"]},
        {"item": "final_accounts_sangong", "item_zh": "“三公”经费决算", "year": y - 1, "expected": "missing",
         "path": sp["final"], "note": "决算 published without its 三公 part"},
        {"item": "final_accounts", "item_zh": "部门决算", "year": y - 2, "expected": "present", "evidence": "title",
         "path": sp["final_prev"]},
        {"item": "final_accounts_sangong", "item_zh": "“三公”经费决算", "year": y - 2, "expected": "present",
         "evidence": "title", "path": sp["final_prev"]},
        {"item": "annual_report", "item_zh": "政府信息公开工作年度报告", "year": y - 1, "expected": "late",
         "published": f"{y}-02-20", "due": f"{y}-01-31", "path": sp[f"ndbg{y - 1}"]},
        {"item": "annual_report", "item_zh": "政府信息公开工作年度报告", "year": y - 2, "expected": "present",
         "path": sp[f"ndbg{y - 2}"]},
        {"item": "guide", "item_zh": "政府信息公开指南", "year": y, "expected": "present", "path": sp[f"guide{y}"]},
        {"item": "interpretation", "item_zh": "政策解读", "year": y, "document": f"西区办规〔{y}〕1号",
         "expected": "present", "path": sp["reg1"], "interpretation_path": sp["jd1"]},
        {"item": "interpretation", "item_zh": "政策解读", "year": y, "document": f"西区办规〔{y}〕3号",
         "expected": "missing", "path": sp["reg3"]},
        {"item": "interpretation", "item_zh": "政策解读", "year": y - 1, "document": f"西区办规〔{y - 1}〕2号",
         "expected": "present", "path": sp["reg0"], "interpretation_path": sp["jd0"]},
    ] + ([
        {"item": "interpretation", "item_zh": "政策解读", "year": y, "document": f"西区办规〔{y}〕4号",
         "expected": "present", "path": sp["reg4"], "interpretation_path": sp["gk_jd4"], "only_in": "gkmlpt",
         "note": "the interpretation is published only in the gkmlpt catalogue (JSON API, no static link)"},
    ] if dt.date(y, 6, 16) <= content.snapshot else [])


def platform_columns(content: SiteContent) -> list[dict[str, Any]]:
    """Manifest entries of the gkmlpt leaf categories (by category name) and the Hanweb datastore column."""
    def verdict(category: str, newest: dt.date | None, n: int) -> str:
        if n == 0:
            return "blank"
        if category == "unknown":
            return "unknown"
        if newest is None:
            return "stale"
        if (content.snapshot - newest).days <= WINDOWS[category]:
            return "fresh"
        return "long_stale" if category == "yearly" else "stale"

    out = []
    names = {c: n for c, n, _ in GK_TREE}
    for cat, category in GK_LEAF_CATEGORY.items():
        items = content.gk_visible(cat)
        newest = max((it.shown for it in items if it.shown), default=None)
        out.append({
            "name": names[cat], "path": f"{GKMLPT}index#{cat}", "category": category,
            "expected": verdict(category, newest, len(items)), "newest": ymd(newest) if newest else None,
            "window_days": WINDOWS.get(category), "layout": "gkmlpt_api", "items": len(items),
            "pages": [GKMLPT + "index"],
            "api_pages": [f"{gk_api_path(cat)}?page={p}&sid={GK_SID}" for p in range(1, gk_pages(content, cat) + 1)],
            "js_pager_only": True, "encoding": "utf-8", "charset_in": "header", "platform": "gkmlpt",
            "notes": ["lists are filled by JavaScript from the JSON API: the static HTML has no list items"],
        })
    items = content.hanweb_visible()
    newest = max((it.shown for it in items if it.shown), default=None)
    out.append({
        "name": HANWEB_COL.name, "path": f"{PREFIX}{HANWEB_COL.key}/", "category": HANWEB_COL.category,
        "expected": verdict(HANWEB_COL.category, newest, len(items)), "newest": ymd(newest) if newest else None,
        "window_days": WINDOWS.get(HANWEB_COL.category), "layout": HANWEB_COL.layout, "items": len(items),
        "pages": [f"{PREFIX}{HANWEB_COL.key}/index.html"], "js_pager_only": False, "encoding": "utf-8",
        "charset_in": "header", "platform": "hanweb",
        "notes": ["rows are CDATA records inside <script type=\"text/xml\"><datastore>"],
    })
    return out


def history(defects: list[Defect]) -> list[dict[str, Any]]:
    """Each planted defect's kind and status in every simulated month."""
    return [{"path_or_url": d.target, "reason": d.reason, "kind": d.kind,
             "broken_in": list(d.broken_in), "status_by_variant": {str(v): "broken" if v in d.broken_in else "ok"
                                                                   for v in HISTORY_MONTHS}}
            for d in defects]


def page_checks(content: SiteContent, messages: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Expected verdicts of the page-level checks: found, not_found (compliant), any (no verdict)."""
    sp, m = content.special, messages
    lst = ZXLY + "index.html"
    guides = {svc: (BSZN + name, missing) for name, svc, missing in GUIDES}
    out: list[dict[str, Any]] = [
        {"rule": "interaction.unanswered", "path": m["unanswered"]["path"], "also_on": [lst], "expected": "found",
         "asked": m["unanswered"]["asked"], "note": "未回复 for more than 3 months (within the last year)"},
        {"rule": "interaction.slow_reply", "path": m["slow"]["path"], "also_on": [lst], "expected": "found",
         "asked": m["slow"]["asked"], "replied": m["slow"]["replied"],
         "working_days": m["slow"]["working_days"], "note": "answered after more than 5 working days"},
        {"rule": "interaction.slow_reply", "path": m["prompt"]["path"], "expected": "not_found",
         "asked": m["prompt"]["asked"], "replied": m["prompt"]["replied"],
         "working_days": m["prompt"]["working_days"]},
        {"rule": "interaction.slow_reply", "path": m["old"]["path"], "expected": "not_found",
         "asked": m["old"]["asked"], "replied": m["old"]["replied"], "working_days": m["old"]["working_days"]},
        {"rule": "interaction.unanswered", "path": m["recent"]["path"], "expected": "not_found",
         "asked": m["recent"]["asked"], "note": "asked the day before, not yet due"},
        {"rule": "interaction.slow_reply", "path": m["recent"]["path"], "expected": "not_found",
         "asked": m["recent"]["asked"], "note": "asked the day before, not yet due"},
    ]
    for _svc, (path, missing) in guides.items():
        entry = {"rule": "service.guide_incomplete", "path": path, "expected": "found" if missing else "not_found",
                 "missing": missing}
        if not missing:
            entry["note"] = "all ten elements"
        out.append(entry)
    out += [
        {"rule": "service.guide_incomplete", "path": sp[f"guide{content.year}"], "expected": "not_found",
         "note": "政府信息公开指南 is not a 办事指南"},
        {"rule": "security.misstatement", "path": sp["misstatement"], "expected": "found",
         "wrong": MISSTATEMENT_WRONG, "right": MISSTATEMENT_RIGHT},
        {"rule": "security.misstatement", "path": sp["misstatement_ok"], "expected": "not_found",
         "note": "the phrase written correctly"},
        {"rule": "security.hidden_link", "path": sp["hidden_link"], "expected": "found",
         "target": "{ext}/casino.html", "note": '<div style="display:none"> around links to the external host'},
        {"rule": "security.hidden_link", "path": PREFIX + "index.html", "expected": "not_found",
         "note": "a hidden client-side template row ({{ item.url }}) is not a link"},
        {"rule": "security.duplicate_content", "path": sp["duplicate_a"], "also_on": [sp["duplicate_b"]],
         "expected": "found", "chars": len(DUPLICATE_BODY), "note": "same body in 社区动态 and 党建动态"},
        {"rule": "security.duplicate_content", "path": sp["budget"], "expected": "not_found",
         "note": "short shared body 详见附件 (< 300 characters), also in the gkmlpt copy"},
        {"rule": "identity.mark_missing", "path": lst, "expected": "found",
         "note": "no 网站标识码, ICP备案 or 公网安备 in the footer (and no SiteIDCode meta)"},
        {"rule": "identity.mark_missing", "path": PREFIX + "index.html", "expected": "not_found"},
        {"rule": "identity.mark_missing", "path": m["slow"]["path"], "expected": "not_found"},
        {"rule": "identity.mark_missing", "path": PREFIX + "ztzl/cjwmcs/index.html", "expected": "any",
         "note": "error page of a planted soft 404"},
        {"rule": "identity.mark_missing", "path": sp["stub"], "expected": "any",
         "note": "meta-refresh stub of a deleted document"},
    ]
    return out
