"""Conditional requests: what the latest earlier completed scan of the site stored of each page it read (the
validators the page was served with, the hash of its body, the facts its page hooks learnt from it), so that this
scan asks the server "changed since?" (If-None-Match, If-Modified-Since) and, for a page that did not change,
replays the stored facts and copies its links instead of reading it again.

A page is reused when the server answers 304 Not Modified, or answers 200 with the very body stored (a server
that ignores validators costs the bytes but not the reading). Facts are replayed only when they were made by the
same analysis (``fingerprint``: the page checks' rules, the list engines' settings, the code's version), and only
for pages whose facts came from the page alone (a page whose hooks read an API, or failed, is read every scan).

With the link cache on (``[crawl] link_cache_days`` N), a *leaf* page of the site (an article: no list was read on
it, not a start page, no finding of the last scan names it) measured less than N days ago is not requested at all,
like an external link: its stored result and facts are reused (``reused`` = "cached", a ``cached_targets`` row says
when it was measured). List pages and the homepage, where new articles show, are always asked, and so is a page
with a problem (its fix is seen at once); an article edited in place otherwise is seen again within N days (the
monthly audit, which turns the link cache off, asks every page).

Canaries: a share of the pages (``CANARY_SHARE``, drawn afresh each scan) is fetched in full without validators.
A canary served with the stored validators but another body proves the host's validators wrong (its server would
answer 304 for a changed page): the host's pages are fetched in full from then on, in this scan and the following
ones (the distrusted hosts are carried from scan to scan in the scan's statistics).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, select

from sitewatch.crawl.fetch import FetchResult
from sitewatch.crawl.linkcache import latest_before, measurements, young
from sitewatch.store import FindingRow, LinkRow, PageRow, Store
from sitewatch.urls import host_key

# the reads of a reused page, built once (a statement built per page cost more CPU than the read)
_PAGE_ROW = select(PageRow).where(PageRow.c.id == bindparam("id"))
_PAGE_LINKS = select(LinkRow.c.target, LinkRow.c.tag, LinkRow.c.text).where(
    LinkRow.c.scan_id == bindparam("scan"), LinkRow.c.page_url == bindparam("url"), LinkRow.c.tag != "api"
).order_by(LinkRow.c.id)

_PAGE_COLUMNS = ("status", "title", "encoding", "content_type", "size", "content_hash", "pub_date", "meta", "etag",
                 "last_modified", "facts")
_PAGE_ROW_SQL = f"SELECT {', '.join(_PAGE_COLUMNS)} FROM pages WHERE id = ?"
# a page's own link rows: not the "api" rows a gkmlpt catalogue stores under its items' URLs (the catalogue is read
# again every scan and stores them again)
_PAGE_LINKS_SQL = "SELECT target, tag, text FROM links WHERE scan_id = ? AND page_url = ? AND tag != 'api' ORDER BY id"

CANARY_SHARE = 0.02        # pages of a rescan fetched in full to test the server's validators
REUSE_KINDS = ("full",)     # scans whose pages can be reused (a link scan or a look-back reads no page whole)


@dataclass(frozen=True, slots=True)
class StoredPage:
    """One page as the source scan read it."""

    page_id: int
    etag: str | None
    last_modified: str | None
    content_hash: str
    measured_at: dt.datetime | None = None    # when its server last answered for it (a 200 or a 304)
    measured_scan: int = 0


@dataclass
class ConditionalStats:
    """What conditional requests saved and found (``scan.conditional`` of the findings JSON)."""

    source_scan: int | None = None
    fingerprint: str = ""
    off: str = ""                   # why no page could be reused (empty when some could)
    stored: int = 0                 # pages of the source scan with reusable facts
    sent: int = 0                   # requests that carried validators
    cached: int = 0                 # leaf pages reused without a request (link cache: measured recently)
    not_modified: int = 0           # pages reused after a 304 answer
    unchanged: int = 0              # pages reused after a 200 answer with the stored body
    changed: int = 0                # stored pages read again: their body changed
    canaries: int = 0               # stored pages fetched in full to test the validators
    wrong_validators: list[dict[str, str]] = field(default_factory=list)   # canaries that proved them wrong
    untrusted_hosts: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


class PageCache:
    """The reusable pages of one scan (none when conditional requests are off or no earlier scan qualifies)."""

    def __init__(self, pages: dict[str, StoredPage] | None = None, *, source_scan: int | None = None,
                 fingerprint: str = "", untrusted: set[str] | None = None, canary_share: float = 0.0,
                 salt: str = "", off: str = "", reuse: bool = True, max_age_days: int = 0,
                 now: dt.datetime | None = None, start_urls: tuple[str, ...] = (), problems: set[str] | None = None):
        self.pages = pages or {}
        self.max_age_days = max_age_days if reuse else 0
        self.now = now or dt.datetime.now()
        self.start_urls = frozenset(start_urls)
        self.problems = problems or set()       # pages a finding of the source scan names: always asked
        self._conn: Connection | None = None
        self._raw: sqlite3.Connection | None = None
        self.reuse = reuse              # False: a full check (every page fetched and read; validators still tested)
        self.untrusted = untrusted or set()
        self.canary_share = canary_share
        self.salt = salt
        self.stats = ConditionalStats(source_scan=source_scan, fingerprint=fingerprint, off=off,
                                      stored=len(self.pages), untrusted_hosts=sorted(self.untrusted))

    @classmethod
    def load(cls, store: Store, site: str, scan_id: int, fingerprint: str, *, enabled: bool = True,
             canary_share: float | None = None, max_age_days: int = 0, start_urls: tuple[str, ...] = (),
             now: dt.datetime | None = None) -> PageCache:
        """The pages of the latest completed full scan of ``site`` before ``scan_id`` whose facts were made by the
        same analysis (``fingerprint``). ``enabled`` False is a full check: every page is fetched in full and read
        again, and every stored page serves as a canary (its validators are tested)."""
        with store.engine.connect() as c:
            earlier = latest_before(c, site, scan_id, REUSE_KINDS)
            if earlier is None:
                return cls(fingerprint=fingerprint, off="no earlier completed scan of the site", reuse=enabled)
            before = dict((earlier.stats or {}).get("conditional") or {})
            untrusted = set(before.get("untrusted_hosts") or ())
            if before.get("fingerprint") != fingerprint:
                return cls(source_scan=earlier.id, fingerprint=fingerprint, untrusted=untrusted, reuse=enabled,
                           off=f"scan {earlier.id} read its pages with other rules or another version: "
                               "every page is read again")
            rows = c.execute(select(PageRow.c.id, PageRow.c.url, PageRow.c.etag, PageRow.c.last_modified,
                                    PageRow.c.content_hash).where(PageRow.c.scan_id == earlier.id,
                                                                  PageRow.c.facts.is_not(None))).all()
            measured = measurements(c, earlier)
            named: set[str] = set()
            if max_age_days > 0:
                for url, found_on in c.execute(select(FindingRow.c.url, FindingRow.c.found_on)
                                               .where(FindingRow.c.scan_id == earlier.id)):
                    named.add(url)
                    named.update(u for u in (found_on or ()) if isinstance(u, str))
        pages = {r.url: StoredPage(r.id, r.etag, r.last_modified, r.content_hash, *measured(r.url)) for r in rows}
        share = (CANARY_SHARE if canary_share is None else canary_share) if enabled else 1.0
        return cls(pages, source_scan=earlier.id, fingerprint=fingerprint, untrusted=untrusted, canary_share=share,
                   salt=str(scan_id), reuse=enabled, off="" if enabled else "a full check: every page is read again",
                   max_age_days=max_age_days, now=now, start_urls=start_urls, problems=named)

    def lookup(self, url: str) -> StoredPage | None:
        """The stored page ``url``, if the scan may reuse it."""
        return self.pages.get(url) if self.pages else None

    def fresh(self, url: str, page: StoredPage) -> bool:
        """``page`` may be reused without a request if it is a leaf (checked by ``is_leaf`` on its facts): measured
        less than ``max_age_days`` ago (the link cache), not a start page, not named by a finding, not a canary."""
        return (self.max_age_days > 0 and page.measured_at is not None
                and young(page.measured_at, self.now, self.max_age_days)
                and url not in self.start_urls and url not in self.problems and not self.is_canary(url))

    @staticmethod
    def is_leaf(facts: dict[str, Any]) -> bool:
        """No list was read on the page: an article or a form, not a column, where new articles would show."""
        listing = facts.get("listing") or {}
        return not (facts.get("page") or {}).get("list_items") and not listing.get("columns")

    def validators(self, url: str, page: StoredPage) -> dict[str, str] | None:
        """The conditional request headers for ``url``; None when it is fetched in full (no validators stored, a
        canary, a host whose validators proved wrong)."""
        if not self.reuse or not (page.etag or page.last_modified) or self.is_canary(url) \
                or host_key(url) in self.untrusted:
            return None
        headers = {}
        if page.etag:
            headers["If-None-Match"] = page.etag
        if page.last_modified:
            headers["If-Modified-Since"] = page.last_modified
        self.stats.sent += 1
        return headers

    def is_canary(self, url: str) -> bool:
        """``url`` is in this scan's sample of pages fetched in full (a deterministic draw per scan)."""
        if self.canary_share <= 0:
            return False
        digest = hashlib.blake2b(f"{self.salt}\n{url}".encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") < self.canary_share * 2 ** 32

    def full_answer(self, url: str, page: StoredPage, res: FetchResult, content_hash: str) -> bool:
        """A stored page answered in full (200): counts it and tests the validators of a canary. True when the body
        is the stored one (the page can be reused)."""
        same = content_hash == page.content_hash
        if self.is_canary(url) and (page.etag or page.last_modified):
            self.stats.canaries += 1
            served_same = (page.etag is not None and res.etag == page.etag) \
                or (page.etag is None and page.last_modified is not None and res.last_modified == page.last_modified)
            if served_same and not same:
                host = host_key(url)
                self.stats.wrong_validators.append({"url": url, "etag": page.etag or "",
                                                    "last_modified": page.last_modified or ""})
                if host not in self.untrusted:
                    self.untrusted.add(host)
                    self.stats.untrusted_hosts = sorted(self.untrusted)
        if not same:
            self.stats.changed += 1
        return same and self.reuse

    def row(self, store: Store, page: StoredPage) -> Any:
        """The stored page row of ``page`` (its columns as attributes)."""
        if self._sqlite(store):
            assert self._raw is not None
            r = self._raw.execute(_PAGE_ROW_SQL, (page.page_id,)).fetchone()
            if r is None:
                return None
            values = dict(zip(_PAGE_COLUMNS, r, strict=True))
            values["meta"] = json.loads(values["meta"]) if values["meta"] else {}
            values["facts"] = json.loads(values["facts"]) if values["facts"] else None
            values["pub_date"] = dt.date.fromisoformat(values["pub_date"]) if values["pub_date"] else None
            return SimpleNamespace(**values)
        rows = self._read(store, _PAGE_ROW, {"id": page.page_id})
        return rows[0] if rows else None

    def links(self, store: Store, url: str) -> list[tuple[str, str, str]]:
        """(target, tag, text) of every link row the source scan stored for page ``url``, in stored order."""
        if self._sqlite(store):
            assert self._raw is not None
            return self._raw.execute(_PAGE_LINKS_SQL, (self.stats.source_scan, url)).fetchall()
        return [tuple(r) for r in self._read(store, _PAGE_LINKS, {"scan": self.stats.source_scan, "url": url})]

    def _sqlite(self, store: Store) -> bool:
        """SQLite: reads go straight through the driver on a connection of their own (SQLAlchemy's statement
        handling cost more CPU than the read itself, for every reused page)."""
        if self._raw is None and store.engine.dialect.name == "sqlite":
            self._raw = sqlite3.connect(store.engine.url.database or "", check_same_thread=False)
        return self._raw is not None

    def _read(self, store: Store, statement: Any, params: dict[str, Any]) -> list[Any]:
        """The rows of one prepared read, on a connection kept for the scan (its transaction ends at once: no
        snapshot of the database is held between reads)."""
        if self._conn is None:
            self._conn = store.engine.connect()
        try:
            return list(self._conn.execute(statement, params).all())
        finally:
            self._conn.rollback()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def report(self) -> dict[str, Any]:
        return self.stats.to_json()
