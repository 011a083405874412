"""Stoppable scans and resuming interrupted ones from what the store holds (the pipeline itself is in scan.py).

The invariant: a URL is done exactly when its rows are in the store, and they all get there in one
transaction. The rows of a URL are the target row, and for a crawled page the page row, its link rows and
everything its page hooks add (list items, columns, the items and links a gkmlpt catalogue's JSON API lists,
the pages a JavaScript pager announces): the crawler collects them in a unit of work (``Store.unit``) that
joins the flush buffer only when the URL and its hooks are finished. A scan killed at any moment therefore
holds whole URLs only; a URL whose rows were not all written was not done and is simply fetched again.

A stop request (``threading.Event``) lets the URLs being fetched finish and defers everything still queued:
the deferred URLs are written to the ``frontier`` table and the scan is marked ``interrupted`` in the same
transaction. A scan killed outright (SIGKILL, power loss) keeps every URL flushed before the kill; resuming
derives its frontier from the stored links that have no checked target yet (every URL the crawl queues is
stored as a link of the page that queued it). In-memory state is rebuilt from the store (columns stored,
gkmlpt catalogues read, form targets, trap counts); the per-page checks keep their facts in memory only, so
a resumed scan fetches the pages of the earlier runs again for them. A resumed scan keeps every setting it
was started with (``config_from_scan``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.exc import SQLAlchemyError

from sitewatch.config import SiteConfig
from sitewatch.crawl.coverage import Coverage
from sitewatch.crawl.engine import Crawler
from sitewatch.crawl.listings import ListingCollector
from sitewatch.crawl.stats import CrawlStats
from sitewatch.encoding import decode_html
from sitewatch.errors import StoreError
from sitewatch.extract import FORM_TAGS, parse_html
from sitewatch.rules import PageChecks
from sitewatch.store import (
    FrontierRow,
    LinkRow,
    ListItemRow,
    PageRow,
    ScanRecord,
    ScanRow,
    Store,
    TargetRow,
    db_reason,
    describe,
    runner,
)
from sitewatch.urls import is_pagination

log = logging.getLogger("sitewatch.resume")

RESUMABLE = ("interrupted", "running", "failed")
RESUME_MAY_CHANGE = ("concurrency", "rate", "adaptive", "timeout", "retries")   # politeness: how fast, not what
# how requests leave this machine (not stored: a proxy URL may hold a password) and the fleet's shared budget (a
# scan resumed by another worker keeps to the host's budget)
RESUME_FROM_CURRENT = ("proxy", "shared_budget")
SCAN_KINDS = ("full", "links")
Progress = Callable[[CrawlStats, int], None]


class StoppableCrawler(Crawler):
    """A crawler that, once ``stop`` is set, cancels the requests in flight at once and defers them with
    everything still queued (their rows are dropped: the URLs were not done)."""

    def __init__(self, cfg: SiteConfig, store: Store, scan_id: int, stop: threading.Event | None = None,
                 progress: Progress | None = None):
        super().__init__(cfg, store, scan_id, progress=progress)
        self.stop = stop or threading.Event()
        self.deferred: list[tuple[str, int, bool]] = []
        self.page_checks: PageChecks | None = None
        self._inflight: set[asyncio.Future[Any]] = set()

    async def _process(self, url: str, depth: int, crawl: bool) -> None:
        if not await self.stoppable(super()._process(url, depth, crawl)):
            self.store.drop_unit()
            self.deferred.append((url, depth, crawl))

    async def _learn_error_pages(self) -> None:
        await self.stoppable(super()._learn_error_pages())

    async def stoppable(self, work: Coroutine[Any, Any, Any] | asyncio.Future[Any]) -> bool:
        """Run ``work`` (a coroutine or future) as its own task that a stop request cancels at once; False when
        it was (or the stop came first). A cancellation of the caller itself still propagates."""
        if self.stop.is_set():
            if asyncio.iscoroutine(work):
                work.close()
            else:
                work.cancel()
            return False
        task = asyncio.ensure_future(work)
        self._inflight.add(task)
        try:
            await task
            return True
        except asyncio.CancelledError:
            current = asyncio.current_task()
            assert current is not None                  # awaited inside a task
            if current.cancelling() or not task.cancelled() or not self.stop.is_set():
                raise
            return False
        finally:
            self._inflight.discard(task)

    async def watch_stop(self, poll: float = 0.1) -> None:
        """Wait for the stop request, then cancel the work in flight (requests to a server that never answers
        included): a stop takes effect within ``poll`` seconds, not after the request timeout."""
        while not self.stop.is_set():
            await asyncio.sleep(poll)
        for task in list(self._inflight):
            task.cancel()


_signalled: dict[str, Any] = {"stop": None, "count": 0}   # the current stop_on_signals event, signals since
_STOPS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """While the block runs, SIGTERM and SIGINT set the event it yields (call from the main thread). A second
    signal ends the process at once with exit code 130: the first one checkpointed, or is checkpointing, the
    frontier, and a URL whose rows were not written is fetched again by ``scan --resume``. The previous handlers
    are back when the block ends (a test process, the scheduler's host, keep theirs).

    The second signal is seen by a thread reading the signal wakeup fd, not by a Python handler: the main
    thread may be waiting inside the database driver (a lock held by another writer) where no handler runs."""
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.warning("received %s: stopping now (a second one exits at once)", signal.Signals(signum).name)
        stop.set()

    saved = {s: signal.getsignal(s) for s in _STOPS}
    for s in _STOPS:
        signal.signal(s, handler)
    _signalled.update(stop=stop, count=0)
    wakeup = _start_signal_watcher()
    try:
        yield stop
    finally:
        _signalled.update(stop=None, count=0)
        if wakeup is not None:
            signal.set_wakeup_fd(wakeup)
        for s, h in saved.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


_pipe: tuple[int, int] | None = None      # the watcher's end and the wakeup end, made once per process


def _start_signal_watcher() -> int | None:
    """Point the signal wakeup fd at the watcher's pipe (starting the watcher once); the previous wakeup fd,
    or None when this thread cannot set one."""
    global _pipe
    if threading.current_thread() is not threading.main_thread():
        return None
    if _pipe is None:
        r, w = os.pipe()
        os.set_blocking(w, False)
        _pipe = (r, w)
        threading.Thread(target=_watch, args=(r,), name="sitewatch-signals", daemon=True).start()
    try:
        return signal.set_wakeup_fd(_pipe[1], warn_on_full_buffer=False)
    except ValueError:
        return None


def _watch(r: int) -> None:
    stops = {s.value for s in _STOPS}
    while True:
        for signum in os.read(r, 64):
            stop = _signalled["stop"]
            if signum not in stops or stop is None:
                continue
            _signalled["count"] += 1
            if _signalled["count"] > 1:
                os.write(2, b"sitewatch: second stop signal: exiting at once; continue the scan with "
                            b"sitewatch scan --resume\n")
                os._exit(130)
            stop.set()


def _forget_signals_in_child() -> None:
    """A forked child (a test server, a worker) must not report its own signals through the parent's pipe nor
    keep the parent's stop handlers: it gets the default ones."""
    global _pipe
    if _signalled["stop"] is None and _pipe is None:
        return
    _signalled.update(stop=None, count=0)
    _pipe = None
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:
        pass


os.register_at_fork(after_in_child=_forget_signals_in_child)


def prepare_resume(store: Store, scan: ScanRecord, cfg: SiteConfig, crawler: Crawler,
                   collector: ListingCollector) -> None:
    """Set up ``crawler`` to continue ``scan``: its seen URLs and frontier from the store (``resume_state``), the
    list collector's and the trap guard's state, the remaining page budget; the scan is marked running again.

    Seen = every checked target and crawled page of the scan. Frontier = the checkpointed ``frontier`` rows
    plus, for pages stored after the checkpoint (all pages when there is none), every link target without a
    checked target (crawled when in scope, at the linking page's depth + 1), plus the start URLs not yet done.
    """
    store.flush()
    seen, frontier = resume_state(store, scan, crawler)
    collector.restore(scan.id)
    with store.engine.connect() as c:
        crawled = c.execute(select(TargetRow.c.url).where(TargetRow.c.scan_id == scan.id,
                                                          TargetRow.c.internal.is_(True))).scalars().all()
    for url in crawled:
        crawler.frontier.traps.admit(url)
    crawler.frontier.budget = max(0, cfg.max_pages - len(crawled))
    crawler.frontier.seed(frontier, seen)
    with store.engine.begin() as c:
        c.execute(update(ScanRow).where(ScanRow.c.id == scan.id).values(status="running", finished_at=None,
                                                                    stats={**(scan.stats or {}), "runner": runner()}))
    log.info("resuming scan %d of %s: %d done, %d queued", scan.id, scan.site, len(seen), crawler.frontier.qsize())


def resume_state(store: Store, scan: ScanRecord, crawler: Crawler) -> tuple[list[str], list[tuple[str, int, bool]]]:
    """(seen URLs, frontier entries (url, depth, crawl)) of a stored scan."""
    sid = scan.id
    with store.engine.connect() as c:
        done = set(c.execute(select(TargetRow.c.url).where(TargetRow.c.scan_id == sid)).scalars())
        pages = {url: (pid, depth) for pid, url, depth in
                 c.execute(select(PageRow.c.id, PageRow.c.url, PageRow.c.depth).where(PageRow.c.scan_id == sid))}
        queued = c.execute(select(FrontierRow.c.url, FrontierRow.c.depth, FrontierRow.c.crawl)
                           .where(FrontierRow.c.scan_id == sid).order_by(FrontierRow.c.id)).all()
        links = c.execute(select(LinkRow.c.page_url, LinkRow.c.target, LinkRow.c.tag, LinkRow.c.text)
                          .where(LinkRow.c.scan_id == sid).order_by(LinkRow.c.id)).all()
        api_items = c.execute(select(ListItemRow.c.page_url, ListItemRow.c.url, literal("api"), literal("")).where(
            ListItemRow.c.scan_id == sid, ListItemRow.c.page_url.like("%/gkmlpt/%"))).all()
        listed = set(c.execute(select(ListItemRow.c.page_url).where(ListItemRow.c.scan_id == sid).distinct()).scalars())
    seen = done | set(pages)
    after = int((scan.stats or {}).get("checkpoint_page_id", 0)) if queued else 0
    frontier: dict[str, tuple[str, int, bool]] = {}
    for url, depth, crawl in queued:
        frontier.setdefault(url, (url, depth, crawl))
    # a link whose source is no page (a stylesheet's or sitemap's link, an attachment a gkmlpt API item lists)
    # is one step below its source, which is one step below the shallowest page linking to it
    below: dict[str, int] = {}
    for page_url, target, _, _ in links:
        if page_url in pages:
            below[target] = min(below.get(target, 1 << 30), pages[page_url][1] + 1)
    for page_url, target, tag, text in [*links, *api_items]:
        if tag in FORM_TAGS:
            crawler.frontier.mark_form_target(target)
        if target in seen:
            continue
        if page_url in pages:
            pid, depth = pages[page_url]
            if pid <= after:            # its links were done or checkpointed in the frontier table
                continue
        else:
            depth = below.get(page_url, 0)
        crawl = tag not in FORM_TAGS and crawler.scope.in_scope(target)
        step = 0 if page_url in listed and is_pagination(page_url, target, text) else 1   # as CrawlFrontier.follow
        prev = frontier.get(target)
        if prev is None or depth + step < prev[1]:
            frontier[target] = (target, depth + step, crawl)
    for u in crawler.cfg.start_urls:
        if u not in seen:
            frontier.setdefault(u, (u, 0, True))
    return sorted(seen), sorted(frontier.values(), key=lambda e: e[1])


def resumable_scan(store: Store, site: str | None = None) -> ScanRecord | None:
    """The latest scan of ``site`` (any site when None) if it was interrupted or left running."""
    scans = [s for s in store.scans(site, kind=None) if s.kind in SCAN_KINDS]
    return scans[-1] if scans and scans[-1].status in RESUMABLE else None


def config_from_scan(scan: ScanRecord) -> SiteConfig:
    """The settings a stored scan ran with: everything ``SiteConfig.to_json`` kept, and its ``as_of``."""
    cfg = SiteConfig.from_json(scan.config or {}, source=f"scan {scan.id}")
    cfg.start_urls = list(scan.start_urls or cfg.start_urls)
    if not cfg.name and scan.site not in cfg.start_urls:
        cfg.name = scan.site
    cfg.as_of = scan.as_of
    return cfg


def resume_settings(scan: ScanRecord, current: SiteConfig | None = None
                    ) -> tuple[SiteConfig, list[tuple[str, Any, Any]]]:
    """The settings to resume ``scan`` with, and (key, stored, current) of each setting ``current`` would change
    but a resumed scan keeps.

    A resumed scan keeps every setting it was started with (``config_from_scan``): a different scope, bound,
    robots rule, user agent, rule set or ``as_of`` would mix two kinds of scan in one set of findings. Only
    the politeness settings (``RESUME_MAY_CHANGE``) are taken from ``current``: how fast, not what, is measured;
    and so are the settings a store written by an older version did not record (e.g. ``user_agent``).
    """
    cfg = config_from_scan(scan)
    if current is None:
        return cfg, []
    for key in RESUME_FROM_CURRENT:
        setattr(cfg, key, getattr(current, key))
    before, now = (json.loads(json.dumps(c.to_json(), ensure_ascii=False, default=str)) for c in (cfg, current))
    recorded = set(scan.config or {})
    kept = [(key, value, now.get(key)) for key, value in before.items()
            if key in recorded and key not in RESUME_MAY_CHANGE and key != "name" and now.get(key) != value]
    for key in set(before) - recorded - {"name", "start_urls", "columns"}:
        attr = "obey_robots" if key == "robots" else key
        setattr(cfg, attr, getattr(current, attr))
    if current.as_of is not None and current.as_of != scan.as_of:
        kept.append(("as_of", scan.as_of.isoformat(), current.as_of.isoformat()))
    for key in RESUME_MAY_CHANGE:
        setattr(cfg, key, getattr(current, key))
    return cfg, kept


async def replay_pages(store: Store, scan_id: int, crawler: StoppableCrawler, batch: int = 64) -> int:
    """Feed the pages an earlier run crawled to the per-page checks again (their state is not stored), in crawl
    order: the facts stored with a page are replayed; a page stored without them (its hooks read more than the
    page) is fetched again, concurrently within the politeness limits."""
    assert crawler.page_checks is not None          # set by build_crawler
    checks = crawler.page_checks
    done = 0
    last = 0
    while not crawler.stop.is_set():
        with store.engine.connect() as c:
            rows = c.execute(select(PageRow.c.id, PageRow.c.url, PageRow.c.facts).where(
                PageRow.c.scan_id == scan_id, PageRow.c.id > last).order_by(PageRow.c.id).limit(batch * 8)).all()
        if not rows:
            break
        last = rows[-1].id
        refetch = []
        for r in rows:
            if isinstance(r.facts, dict):
                checks.replay(r.url, r.facts.get("checks") or {})
                done += 1
            else:
                refetch.append(r.url)
        for i in range(0, len(refetch), batch):
            chunk = refetch[i:i + batch]
            fetches = asyncio.gather(*(crawler.fetcher.fetch(u) for u in chunk))
            if not await crawler.stoppable(fetches):
                return done
            for url, res in zip(chunk, fetches.result(), strict=False):
                if res.error or res.status != 200 or not res.body or not res.is_html:
                    continue
                text, _ = decode_html(res.body, res.content_type)
                await checks.page_hook(url, text, parse_html(text, url), scan_id)
                done += 1
    return done


MARK_FAILED_SECONDS = 30


def scan_failed(store: Store, scan_id: int, before: dict[str, Any], now: CrawlStats, exc: Exception) -> StoreError:
    """After a database error: mark the scan failed (the error in its stats), retrying while the database is
    locked for up to ``MARK_FAILED_SECONDS``, and return the one-line error to raise. What the store holds stays:
    every URL whose rows were written is done, the others are fetched again by ``scan --resume``."""
    store.discard()
    reason = db_reason(exc)
    log.error("scan %d failed: database error: %s", scan_id, reason)
    stats = {**before, **now.to_json(), "error": f"database: {reason}"}
    stats.pop("runner", None)
    deadline = time.monotonic() + MARK_FAILED_SECONDS
    marked: Exception | None = None
    while True:
        try:
            with store.engine.begin() as c:
                c.execute(update(ScanRow).where(ScanRow.c.id == scan_id).values(
                    status="failed", stats=stats, finished_at=dt.datetime.now()))
            marked = None
            break
        except SQLAlchemyError as again:
            marked = again
            if "locked" not in db_reason(again) and "lock timeout" not in db_reason(again) \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    where = describe(store.engine)
    if marked is None:
        state = f"scan {scan_id} is marked failed"
    else:
        state = (f"scan {scan_id} could not be marked failed either ({db_reason(marked)}) and shows as stopped "
                 "(status)")
    return StoreError(f"database error in {where}: {reason}; {state}; what was stored is kept, continue it with: "
                      f"sitewatch scan --resume {scan_id}")


def forget_frontier(store: Store, scan_id: int) -> None:
    """Drop a completed scan's checkpointed frontier."""
    with store.engine.begin() as c:
        c.execute(delete(FrontierRow).where(FrontierRow.c.scan_id == scan_id))


def checkpoint(store: Store, scan_id: int, pending: list[tuple[str, int, bool]], stats: dict[str, Any]) -> None:
    """Replace the scan's frontier with ``pending`` and mark it interrupted, in one transaction."""
    store.flush()
    with store.engine.begin() as c:
        last_page = c.execute(select(func.max(PageRow.c.id)).where(PageRow.c.scan_id == scan_id)).scalar() or 0
        c.execute(delete(FrontierRow).where(FrontierRow.c.scan_id == scan_id))
        rows = [dict(scan_id=scan_id, url=u, depth=d, crawl=cr) for u, d, cr in dict.fromkeys(pending)]
        if rows:
            c.execute(insert(FrontierRow), rows)
        c.execute(update(ScanRow).where(ScanRow.c.id == scan_id).values(
            status="interrupted", finished_at=dt.datetime.now(), stats={**stats, "checkpoint_page_id": last_page}))


def merged_stats(store: Store, scan_id: int, before: dict[str, Any], now: CrawlStats) -> dict[str, Any]:
    """Scan statistics over every run of a scan: counts from the store, other numbers summed over the runs."""
    store.flush()
    counted = {"pages": store.count(PageRow, scan_id), "checked": store.count(TargetRow, scan_id),
               "links": store.count(LinkRow, scan_id),
               "broken": store.count(TargetRow, scan_id, TargetRow.c.verdict == "broken")}
    out = now.to_json()
    out["coverage"] = Coverage(now.coverage).merged(Coverage(before.get("coverage"))).to_json()
    for key, value in before.items():
        if key in counted or key in ("pages_per_second", "runner", "coverage"):
            continue
        if isinstance(value, bool) or isinstance(out.get(key), bool):
            out[key] = bool(value) or bool(out.get(key))
        elif isinstance(value, (int, float)) and isinstance(out.get(key, 0), (int, float)):
            out[key] = out.get(key, 0) + value
        elif isinstance(value, dict) and isinstance(out.get(key, {}), dict):
            merged = dict(value)
            for k, v in (out.get(key) or {}).items():       # counts add up; lists join; anything else: this run's
                was = merged.get(k)
                if isinstance(v, (int, float)) and not isinstance(v, bool) and isinstance(was, (int, float)) \
                        and not isinstance(was, bool):
                    merged[k] = was + v
                elif isinstance(v, list) and isinstance(was, list):
                    merged[k] = was + [x for x in v if x not in was]
                else:
                    merged[k] = v
            out[key] = merged
    if before.get("checkpoint_page_id"):
        out["checkpoint_page_id"] = before["checkpoint_page_id"]
    out.update(counted)
    out["pages_per_second"] = round(out["pages"] / out["seconds"], 1) if out.get("seconds") else None
    return out
