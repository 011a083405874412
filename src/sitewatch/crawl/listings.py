"""Collects columns and their list items while the crawl runs (static lists and API-driven catalogues)."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select

from sitewatch.config import SiteConfig
from sitewatch.dates import article_date
from sitewatch.extract import ParsedPage
from sitewatch.listengines import gkmlpt, parse_listing
from sitewatch.models import Listing, ListItem
from sitewatch.store import PROBE_TAG, ColumnRow, LinkRow, ListItemRow, Store
from sitewatch.urls import is_attachment, normalize

if TYPE_CHECKING:
    from sitewatch.crawl.fetch import Fetcher

HOMEPAGE_KEY = "homepage"
GKMLPT_GUIDE = "/gkmlpt/guide"    # the 信息公开指南 of a gkmlpt catalogue: probed, whether or not a page links to it
ARTICLES_KEY = "__articles__"     # pseudo column: every crawled page with an article date
_COLUMN_URL = re.compile(r"/(index(_\d+)?\.(s?html?|jsp|php|aspx?))?$", re.I)
_PAGE_N = re.compile(r"index_\d+\.")
_DOCNO_LABEL = re.compile(r"文\s*号\s*[：:]\s*(?:<[^>]{0,200}>\s*)*([^<\s]{2,30}?[〔\[【(（]\d{4}[〕\]】)）]\d{1,4}号)")
_EMPTY_LIST = re.compile(r"<(ul|ol|tbody|dl)\b[^>]*>\s*</\1>", re.I)


class ListingCollector:
    """A crawler page hook: reads each page's listing with the list engines and stores it.

    Returns the extra URLs the crawler should visit: later pages announced only by a JavaScript pager,
    and the items of API-driven catalogues (gkmlpt), which no static link points to. Each is stored as a
    Link row of the page too (tag "pager" or "api"), so a resumed scan finds it among the links to follow.
    """

    def __init__(self, cfg: SiteConfig, store: Store, fetcher: Fetcher | None = None):
        self.cfg = cfg
        self.store = store
        self.fetcher = fetcher
        self.homepages = {u for u in cfg.start_urls}
        self._columns: set[tuple[object, ...]] = set()     # column descriptions stored (Store.columns picks one)
        self._gkmlpt_done: set[str] = set()
        self._announced: set[str] = set()         # pager URLs already stored as Link rows this run

    def restore(self, scan_id: int) -> None:
        """Take up the state of an earlier run of the scan (resume) from its stored rows: the columns already
        stored, and the gkmlpt catalogues already read (each stored its guide link with its index page)."""
        with self.store.engine.connect() as c:
            self._columns.update(tuple(r) for r in c.execute(
                select(ColumnRow.c.key, ColumnRow.c.name, ColumnRow.c.url, ColumnRow.c.engine, ColumnRow.c.total,
                       ColumnRow.c.empty_marker).where(ColumnRow.c.scan_id == scan_id)))
            guides = c.execute(select(LinkRow.c.target).where(LinkRow.c.scan_id == scan_id, LinkRow.c.tag == PROBE_TAG,
                                                           LinkRow.c.target.like("%" + GKMLPT_GUIDE))).scalars()
            self._gkmlpt_done.update(g[:-len(GKMLPT_GUIDE)] for g in guides)

    async def __call__(self, url: str, text: str, parsed: ParsedPage, scan_id: int) -> list[str]:
        """Read the page's listing; what is stored for it is also put in ``parsed.facts["listing"]`` (replayed by
        ``replay_facts`` when a rescan finds the page unchanged). A gkmlpt catalogue, read through its API, is
        ``volatile``: read again every scan."""
        facts: dict[str, list[Any]] = {"columns": [], "items": [], "announced": []}
        parsed.facts["listing"] = facts
        pub = article_date(text) if "PubDate" in text or "发布" in text or "日期" in text else None
        docno = _DOCNO_LABEL.search(text) if "号" in text else None
        attachments = [[link.text or link.url.rsplit("/", 1)[-1], link.url] for link in parsed.links
                       if link.tag == "a" and not link.bad and is_attachment(link.url)]
        if pub or docno or attachments:
            item = [ARTICLES_KEY, parsed.title, url, pub.isoformat() if pub else None, "article", False,
                    docno.group(1) if docno else None, attachments[:50]]
            facts["items"].append(item)
            self._add_item(item, url, scan_id)
        forced = next((eng for prefix, eng in self.cfg.list_engines.items() if url.startswith(prefix)), None)
        if "/gkmlpt/" in url and self.fetcher is not None:
            return await self._gkmlpt(url, text, parsed, scan_id)
        listing = parse_listing(url, text, engine=forced, doc=parsed.doc)
        if listing is not None:
            parsed.list_items = len(listing.items)
        if url in self.homepages:
            if listing is not None:
                listing.column_key, listing.column_name = HOMEPAGE_KEY, "首页"
                self._store(listing, url, scan_id, facts)
            return []
        if listing is None:
            listing = self._undated_or_blank_column(url, text, parsed)
            if listing is None:
                return []
        self._store(listing, url, scan_id, facts)
        # pages a JavaScript pager announces are stored as links, each once per scan: a pager shows the whole
        # range index … index_{K+1} on page K, which would be a quadratic number of rows on a long column
        linked = {link.url for link in parsed.links}
        rows = []
        for u in listing.page_urls:
            n = normalize(u, url)
            if n and n not in linked and n not in self._announced:
                self._announced.add(n)
                facts["announced"].append(n)
                rows.append((scan_id, url, n, "pager", ""))
        self.store.add_rows(LinkRow, ("scan_id", "page_url", "target", "tag", "text"), rows)
        return list(listing.page_urls)

    def _undated_or_blank_column(self, url: str, text: str, parsed: ParsedPage) -> Listing | None:
        """A column index page (ColumnName meta, index URL) that no engine read as a dated list.

        Links to documents below the column's folder make it a column of undated items (which count as
        not updated); an empty list element makes it a blank column; anything else is not a column.
        """
        if "columnname" not in parsed.meta or "articletitle" in parsed.meta \
                or not _COLUMN_URL.search(urlsplit(url).path):
            return None
        folder = url.rsplit("/", 1)[0] + "/"
        name = parsed.meta.get("columnname") or parsed.title
        items = [ListItem(title=link.text, url=link.url) for link in parsed.links
                 if link.tag == "a" and link.url.startswith(folder) and len(link.text) >= 4
                 and not _PAGE_N.search(link.url) and link.url.rstrip("/") != folder.rstrip("/")]
        if len(items) >= 3:
            return Listing(engine="undated", items=items, column_name=name, column_key=folder)
        if _EMPTY_LIST.search(text):
            return Listing(engine="none", items=[], column_name=name, column_key=folder)
        return None

    def replay_facts(self, url: str, facts: dict[str, Any], scan_id: int) -> None:
        """A page the last scan read and that did not change: its columns and list items, as stored then."""
        listing = facts.get("listing") or {}
        for described in listing.get("columns", ()):
            self._add_column(tuple(described), scan_id)
        for item in listing.get("items", ()):
            self._add_item(item, url, scan_id)
        self._announced.update(listing.get("announced", ()))

    def _store(self, listing: Listing, page_url: str, scan_id: int, facts: dict[str, list[Any]] | None = None) -> None:
        key = listing.column_key or page_url
        first = page_url if not _PAGE_N.search(page_url) else key
        described = (key, listing.column_name or "", first, listing.engine, listing.total, listing.empty_marker)
        self._add_column(described, scan_id)
        if facts is not None:
            facts["columns"].append(list(described))
        for li in listing.items:
            item = [key, li.title, li.url, li.date.isoformat() if li.date else None, li.date_source, li.pinned,
                    li.document_number, [list(a) for a in li.attachments]]
            if facts is not None:
                facts["items"].append(item)
            self._add_item(item, page_url, scan_id)

    def _add_column(self, described: tuple[Any, ...], scan_id: int) -> None:
        """A column description (key, name, url, engine, total, empty marker), each once per scan (which one counts
        is decided on reading: ``Store.columns``)."""
        if described not in self._columns:
            self._columns.add(described)
            key, name, first, engine, total, empty = described
            self.store.add(ColumnRow, scan_id=scan_id, key=key, name=name, url=first, engine=engine, total=total,
                           empty_marker=empty)

    def _add_item(self, item: list[Any], page_url: str, scan_id: int) -> None:
        """A list item: [column key, title, url, ISO date, date source, pinned, document number, attachments]."""
        key, title, url, date, source, pinned, docno, attachments = item
        self.store.add(ListItemRow, scan_id=scan_id, column_key=key, page_url=page_url, title=title, url=url,
                       date=dt.date.fromisoformat(date) if date else None, date_source=source, pinned=pinned,
                       document_number=docno, attachments=attachments)

    async def _gkmlpt(self, url: str, text: str, parsed: ParsedPage, scan_id: int) -> list[str]:
        """Read a gkmlpt catalogue through its JSON API: every leaf category, every page. The page that reads it is
        ``volatile`` (what it learns is the API's, read again every scan); its article pages are not."""
        site = gkmlpt.discover(url, text)
        if site is None or site.prefix in self._gkmlpt_done:
            return []
        parsed.volatile = True
        self._gkmlpt_done.add(site.prefix)
        extra: list[str] = [site.prefix + GKMLPT_GUIDE]
        # a probe, not a link: found again by a resume, never a link.broken finding (Store.broken_targets)
        self.store.add(LinkRow, scan_id=scan_id, page_url=url, target=extra[0], tag=PROBE_TAG, text="")
        for cat in site.leaves:
            pending = [gkmlpt.api_url(url, cat.id, 1, site.sid)]
            done: set[str] = set()
            while pending:
                api = pending.pop(0)
                if api in done:
                    continue
                done.add(api)
                assert self.fetcher is not None        # the gkmlpt path runs only with a fetcher
                res = await self.fetcher.fetch(api, body_limit=8 << 20)
                if res.error or res.status != 200 or not res.body:
                    continue
                try:
                    data = json.loads(res.body.decode("utf-8", "replace"))
                except ValueError:
                    continue
                if not isinstance(data, dict):
                    continue
                listing = gkmlpt.parse_api(api, data, cat.name)
                self._store(listing, url, scan_id)
                if api.endswith("page=1&sid=" + str(site.sid)) or "page=1&" in api:
                    pending.extend(u for u in listing.page_urls if u not in done)
                for item in listing.items:
                    self.store.add(LinkRow, scan_id=scan_id, page_url=url, target=item.url, tag="api", text=item.title)
                    extra.append(item.url)
                    for _, att in item.attachments:
                        self.store.add(LinkRow, scan_id=scan_id, page_url=item.url, target=att, tag="api", text="")
                        extra.append(att)
        return extra
