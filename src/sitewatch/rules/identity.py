"""Site identity (国办发〔2017〕47号): footer marks, government meta tags, site id consistency, domain, HTTPS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from sitewatch.extract import Link
from sitewatch.models import Finding
from sitewatch.rules._page import Examples, PageCheck, PageContext, PageView, keyword_regex
from sitewatch.rules.registry import page_check

MARK = "identity.mark_missing"
META = "identity.meta_missing"
INCONSISTENT = "identity.inconsistent"
DOMAIN = "identity.domain"
HTTPS = "identity.https"
MIXED = "identity.mixed_content"

SITE_ID_RE = re.compile(r"网站标识码\s*[:：]?\s*([0-9A-Za-z]{10})(?![0-9A-Za-z])")
ICP_RE = re.compile(r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]ICP备\s*\d+\s*号(?:\s*-\s*\d+)?")
PSB_RE = re.compile(r"公网安备\s*\d{14}\s*号")
MARKS_ZH = {"site_id": "网站标识码", "icp": "ICP备案号", "psb": "公安机关备案号", "conac": "党政机关标识",
            "host": "主办单位", "contact": "联系方式"}
RESOURCE_TAGS = {"img", "script", "iframe", "frame", "embed", "object", "source", "video", "audio", "link"}


def _skip_host(host: str) -> bool:
    """Loopback, private or bare-IP hosts are not judged for the .gov.cn domain."""
    if host in ("localhost",) or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@page_check(MARK, META, INCONSISTENT, DOMAIN, HTTPS, MIXED)
class Identity(PageCheck):
    def __init__(self, ctx: PageContext):
        super().__init__(ctx)
        ruleset = self.ruleset
        start_urls = self.start_urls = ctx.start_urls
        self.starts = {u.split("#", 1)[0].rstrip("/") for u in start_urls}
        on = ruleset.enabled
        self.want_marks, self.want_meta, self.want_ids = on(MARK), on(META), on(INCONSISTENT)
        self.want_https, self.want_mixed = on(HTTPS), on(MIXED)

        def limit(rule: str) -> int:
            return int(ruleset.threshold(rule, "max_pages")) if ruleset.has(rule) else 20

        def kw(rule: str, key: str) -> tuple[str, ...]:
            return ruleset.keywords(rule, key) if ruleset.has(rule) else ()

        self.host_re = keyword_regex(kw(MARK, "host"))
        self.contact_re = keyword_regex(kw(MARK, "contact"))
        self.conac_url_re = keyword_regex(kw(MARK, "conac"))
        self.conac_alt_re = keyword_regex(kw(MARK, "conac_alt"))
        self.meta_site = kw(META, "site")
        self.meta_column = kw(META, "column")
        self.meta_article = kw(META, "article")
        self.pages = 0
        self.kinds = {"home": 0, "column": 0, "article": 0, "other": 0}
        self.marks = {m: Examples(limit(MARK)) for m in MARKS_ZH}
        self.meta_missing: dict[str, Examples] = {}
        self.meta_limit = limit(META)
        self.ids: dict[str, Examples] = {}
        self.ids_limit = limit(INCONSISTENT)
        self.http_pages = Examples(limit(MIXED))
        self._notes: list[str] = []
        self.mixed = Examples(limit(MIXED))
        self.mixed_examples: list[dict[str, str]] = []

    # facts of a page: {"marks": [missing mark, ...], "ids": [site id value, ...], "mixed": {"count": n,
    # "examples": [[resource url, tag], ...]}, "kind": home|column|article|other, "meta": [missing tag, ...]}, each
    # key only when it has something; whether the page is http:// is read from its URL
    def on_page(self, view: PageView) -> Any:
        facts: dict[str, Any] = {}
        text = view.text
        if self.want_marks:
            present = {
                "site_id": SITE_ID_RE.search(text) is not None,
                "icp": ICP_RE.search(text) is not None,
                "psb": PSB_RE.search(text) is not None,
                "conac": self._conac(view.parsed.links),
                "host": bool(self.host_re and self.host_re.search(text)),
                "contact": bool(self.contact_re and self.contact_re.search(text)),
            }
            missing = [mark for mark, ok in present.items() if not ok]
            if missing:
                facts["marks"] = missing
        if self.want_ids:
            values = {view.meta.get("siteidcode", "").strip()} | {m.group(1) for m in SITE_ID_RE.finditer(text)}
            values.discard("")
            if values:
                facts["ids"] = sorted(values)
        if self.want_mixed and view.url.startswith("https://"):
            count = 0
            examples: list[list[str]] = []
            for link in view.parsed.links:
                if link.tag in RESOURCE_TAGS and link.url.startswith("http://"):
                    count += 1
                    if len(examples) < self.mixed.limit:
                        examples.append([link.url, link.tag])
            if count:
                facts["mixed"] = {"count": count, "examples": examples}
        return facts

    def _conac(self, links: list[Link]) -> bool:
        """A link to the 党政机关 identification (开办者标识) service, or an image with its alt text."""
        urls, alts = self.conac_url_re, self.conac_alt_re
        return bool((urls and urls.search("\n".join(link.url for link in links)))
                    or (alts and alts.search("\n".join(link.text for link in links if link.tag == "img"))))

    def on_main(self, view: PageView, early: Any) -> Any:
        facts: dict[str, Any] = early or {}
        if not self.want_meta:
            return facts or None
        if view.url.split("#", 1)[0].rstrip("/") in self.starts:
            kind = "home"
        elif "articletitle" in view.meta or "pubdate" in view.meta:
            kind = "article"
        elif view.parsed.list_items > 0 and view.main_links >= 5:
            kind = "column"             # a list was read on it: a column page, however long a paragraph on it
        elif len(view.body_text) >= 200:
            kind = "article"
        elif view.main_links >= 5:
            kind = "column"
        else:
            kind = "other"
        facts["kind"] = kind
        wanted = list(self.meta_site)
        if kind == "column":
            wanted += self.meta_column
        elif kind == "article":
            wanted += self.meta_article
        missing = [tag for tag in wanted if not view.meta.get(tag.lower())]
        if missing:
            facts["meta"] = missing
        return facts

    def absorb(self, url: str, facts: Any) -> None:
        self.pages += 1
        if url.startswith("http://"):
            self.http_pages.add(url)
        if not facts:
            return
        for mark in facts.get("marks", ()):
            self.marks[mark].add(url)
        for value in facts.get("ids", ()):
            self.ids.setdefault(value, Examples(self.ids_limit)).add(url)
        mixed = facts.get("mixed")
        if mixed:
            for _ in range(mixed["count"]):
                self.mixed.add(url)
            for resource, tag in mixed["examples"]:
                if len(self.mixed_examples) < self.mixed.limit:
                    self.mixed_examples.append({"page": url, "resource": resource, "tag": tag})
        kind = facts.get("kind")
        if kind:
            self.kinds[kind] += 1
        for tag in facts.get("meta", ()):
            self.meta_missing.setdefault(tag, Examples(self.meta_limit)).add(url)

    def findings(self, as_of: dt.date) -> list[Finding]:
        rs = self.ruleset
        site = self.start_urls[0] if self.start_urls else ""
        out: list[Finding] = []
        if self.want_marks and self.pages:
            for mark, ex in self.marks.items():
                if ex.count:
                    out.append(Finding(
                        rule=MARK, severity=rs.severity(MARK), url=ex.urls[0], found_on=list(ex.urls),
                        message=f"{ex.count}/{self.pages}个页面未找到{MARKS_ZH[mark]}（要求：每个页面底部标注）",
                        evidence={"mark": MARKS_ZH[mark], "pages_missing": ex.count, "pages_checked": self.pages,
                                  "pages": list(ex.urls),
                                  "note": "read from the page text; a footer drawn by a script or an image "
                                          "counts as missing"},
                        extra={"item": mark}))
        if self.want_meta:
            for tag, ex in self.meta_missing.items():
                scope = ("栏目页" if tag in self.meta_column else "文章页" if tag in self.meta_article else "所有页面")
                out.append(Finding(
                    rule=META, severity=rs.severity(META), url=ex.urls[0], found_on=list(ex.urls),
                    message=f"{ex.count}个页面缺少网页标签 <meta name=\"{tag}\">（要求：{scope}均应标注）",
                    evidence={"tag": tag, "pages_missing": ex.count, "required_on": scope, "pages": list(ex.urls),
                              "pages_by_kind": dict(self.kinds)},
                    extra={"item": tag}))
        if self.want_ids:
            max_values = int(rs.threshold(INCONSISTENT, "max_values"))
            if len(self.ids) > max_values:
                ranked = sorted(self.ids.items(), key=lambda kv: (-kv[1].count, kv[0]))    # not the crawl's order
                values = {v: {"pages": ex.count, "examples": list(ex.urls)} for v, ex in ranked}
                out.append(Finding(
                    rule=INCONSISTENT, severity=rs.severity(INCONSISTENT), url=site,
                    found_on=sorted({u for _, ex in ranked for u in ex.urls[:3]}),
                    message=f"网站标识码（SiteIDCode/页面底部）出现{len(self.ids)}个不同取值：{'、'.join(values)}"
                            f"（要求：全站唯一）",
                    evidence={"values": values}))
        if rs.enabled(DOMAIN):
            out.extend(self._domain(site))
        if self.want_https:
            http_starts = [u for u in self.start_urls if u.startswith("http://")]
            if http_starts or self.http_pages.count:
                out.append(Finding(
                    rule=HTTPS, severity=rs.severity(HTTPS), url=(http_starts or self.http_pages.urls)[0],
                    found_on=list(self.http_pages.urls),
                    message=f"网站以HTTP明文访问：起始地址{len(http_starts)}个、页面{self.http_pages.count}个"
                            "使用http://（要求：启用HTTPS）",
                    evidence={"http_start_urls": http_starts, "http_pages": self.http_pages.count,
                              "pages": list(self.http_pages.urls)}))
        if self.want_mixed and self.mixed.count:
            out.append(Finding(
                rule=MIXED, severity=rs.severity(MIXED), url=self.mixed.urls[0], found_on=list(self.mixed.urls),
                message=f"{self.mixed.count}个HTTPS页面加载http://资源（要求：HTTPS页面不加载明文资源）",
                evidence={"pages": self.mixed.count, "examples": list(self.mixed_examples)}))
        return out

    def notes(self) -> list[str]:
        return list(self._notes)

    def _domain(self, site: str) -> list[Finding]:
        suffixes = tuple(self.ruleset.keywords(DOMAIN, "suffixes")) or (".gov.cn",)
        skipped, bad = [], []
        for u in self.start_urls:
            host = (urlsplit(u).hostname or "").lower()
            if not host:
                continue
            if _skip_host(host):
                skipped.append(host)
            elif not (host.endswith(suffixes) or host.lstrip(".") in {s.lstrip(".") for s in suffixes}):
                bad.append((u, host))
        self._notes = [f"{DOMAIN}: {h} is a loopback or IP-address host, not judged" for h in dict.fromkeys(skipped)]
        out = []
        for host, u in {h: u for u, h in reversed(bad)}.items():
            out.append(Finding(
                rule=DOMAIN, severity=self.ruleset.severity(DOMAIN), url=u,
                message=f"网站域名“{host}”不以{'或'.join(suffixes)}结尾（要求：政府网站使用.gov.cn域名）",
                evidence={"host": host, "required": list(suffixes),
                          "not_judged": [f"{h} (loopback/IP host, not judged)" for h in skipped]},
                extra={"item": host}))
        return out
