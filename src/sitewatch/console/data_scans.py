"""What the console's scan pages show, read from the store, and the scans the console starts.

Numbers come from ``reporting.data.scan_numbers`` (the one source of the reports); a unit user's counts are its own
责任科室's (``data.visible_count``). Report files are written on demand from the store by the reports' own writers
(``reporting.write.write_report``, ``lookback.write_lookback``, ``scan.findings_document``) into a temporary folder.
This module loads no web framework.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from sitewatch.config import SiteConfig
from sitewatch.console.accounts import UNIT, User
from sitewatch.console.data import visible_count, visible_problems
from sitewatch.crawl.coverage import coverage_document
from sitewatch.reporting.data import scan_numbers
from sitewatch.reporting.numbers import ScanNumbers
from sitewatch.store import FindingRow, PageRow, ScanRecord, Store

log = logging.getLogger("sitewatch.console")

TREND_SCANS = 6             # full scans in a site's trend on the 首页
LISTED_SCANS = 200          # scans on /scans, newest first
KIND_ZH = {"full": "全站扫描", "lookback": "回头看", "links": "链接扫描"}
STATUS_ZH = {"running": "进行中", "completed": "已完成", "interrupted": "已中断", "failed": "失败"}

# the files a scan can be downloaded as: key → (label, which writer, suffix of the file it writes)
FILES = {
    "report-html": ("整改报告（网页）", "report", "整改报告-", ".html"),
    "report-xlsx": ("整改报告（Excel，各科室填报用）", "report", "整改报告-", ".xlsx"),
    "report-csv": ("问题清单（CSV）", "report", "整改报告-", ".csv"),
    "summary-html": ("领导摘要（网页）", "report", "领导摘要-", ".html"),
    "findings-json": ("监测结果（JSON）", "json", "", ".json"),
    "lookback-html": ("回头看报告（网页）", "lookback", "回头看-", ".html"),
    "lookback-xlsx": ("回头看报告（Excel）", "lookback", "回头看-", ".xlsx"),
}
MEDIA = {".html": "text/html; charset=utf-8", ".csv": "text/csv; charset=utf-8", ".json": "application/json",
         ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def finding_counts(store: Store, scan_ids: Sequence[int]) -> dict[int, int]:
    """Findings stored per scan (one query)."""
    if not scan_ids:
        return {}
    with store.engine.connect() as c:
        rows = c.execute(select(FindingRow.c.scan_id, func.count()).where(FindingRow.c.scan_id.in_(list(scan_ids)))
                         .group_by(FindingRow.c.scan_id)).all()
    return {int(k): int(v) for k, v in rows}


def pages_stored(store: Store, scan_id: int) -> int:
    with store.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(PageRow).where(PageRow.c.scan_id == scan_id)).scalar()
                   or 0)


def _numbers(store: Store, scan: ScanRecord, cache: dict[int, ScanNumbers]) -> ScanNumbers | None:
    if scan.kind != "full" or scan.status != "completed":
        return None
    if scan.id not in cache:
        cache[scan.id] = scan_numbers(store, scan, follow_up=False)
    return cache[scan.id]


@dataclass(frozen=True)
class ScanRow:
    """One line of /scans."""

    scan: ScanRecord
    pages: int | None
    problems: int | None            # what the user may see: a unit user its own 责任科室's (full scans only)
    conclusion: str                 # 总体结论 of a completed full scan, else ""

    @property
    def kind_zh(self) -> str:
        return KIND_ZH.get(self.scan.kind, self.scan.kind)

    @property
    def status_zh(self) -> str:
        return STATUS_ZH.get(self.scan.status, self.scan.status)


def scan_list(store: Store, user: User, site: str | None = None, limit: int = LISTED_SCANS) -> list[ScanRow]:
    """The store's scans, newest first (``site``: one site's)."""
    scans = list(reversed(store.scans(site, kind=None)))[:limit]
    counts = finding_counts(store, [s.id for s in scans])
    cache: dict[int, ScanNumbers] = {}
    out = []
    for s in scans:
        n = _numbers(store, s, cache)
        if user.role == UNIT:
            problems = visible_count(user, n) if n is not None else None
        else:
            problems = counts.get(s.id, 0) if s.status == "completed" else None
        pages = (s.stats or {}).get("pages")
        out.append(ScanRow(scan=s, pages=int(pages) if isinstance(pages, int) else None, problems=problems,
                           conclusion=n.conclusion if n is not None else ""))
    return out


@dataclass(frozen=True)
class TrendPoint:
    scan: int
    as_of: dt.date
    score: float | None
    problems: int
    conclusion: str


def site_trend(store: Store, site: str, user: User, n: int = TREND_SCANS) -> list[TrendPoint]:
    """The site's last ``n`` completed full scans, oldest first: score and problems (a unit user: its own)."""
    scans = [s for s in store.scans(site) if s.status == "completed"][-n:]
    out = []
    for s in scans:
        num = scan_numbers(store, s, follow_up=False)
        out.append(TrendPoint(scan=s.id, as_of=s.as_of, score=num.score, problems=visible_count(user, num),
                              conclusion=num.conclusion))
    return out


def trend_bars(points: Sequence[TrendPoint], width: int = 240, height: int = 60) -> list[dict[str, Any]]:
    """Bars of an inline SVG of the problem counts (no script, no style: attributes only)."""
    if not points:
        return []
    top = max(max(p.problems for p in points), 1)
    step = width / len(points)
    return [{"x": round(i * step + step * 0.15, 1), "w": round(step * 0.7, 1),
             "h": round(max(p.problems / top * (height - 14), 1 if p.problems else 0), 1),
             "y": round(height - 12 - max(p.problems / top * (height - 14), 1 if p.problems else 0), 1),
             "label": p.as_of.strftime("%m-%d"), "cx": round(i * step + step / 2, 1), "problems": p.problems}
            for i, p in enumerate(points)]


@dataclass
class ScanDetail:
    scan: ScanRecord
    numbers: ScanNumbers | None
    coverage: dict[str, Any]
    by_rule: list[tuple[str, str, int]]         # (rule id, name, problems the user may see)
    problems: int | None
    files: list[tuple[str, str]]                # (key, label) of the downloads
    pages: int
    stats: dict[str, Any] = field(default_factory=dict)


def files_of(scan: ScanRecord, user: User) -> list[tuple[str, str]]:
    """The downloads of ``scan`` ``user`` may have: a report lists every 责任科室's problems, so not a unit user."""
    if user.role == UNIT or scan.status != "completed":
        return []
    if scan.kind == "full":
        return [(k, v[0]) for k, v in FILES.items() if v[1] in ("report", "json")]
    if scan.kind == "lookback":
        return [(k, v[0]) for k, v in FILES.items() if v[1] == "lookback"]
    return [("findings-json", FILES["findings-json"][0])]


def scan_detail(store: Store, scan: ScanRecord, user: User) -> ScanDetail:
    stats = dict(scan.stats or {})
    numbers = scan_numbers(store, scan) if scan.kind == "full" and scan.status == "completed" else None
    if numbers is not None and user.role == UNIT:
        mine = Counter(str(r["rule"]) for r in visible_problems(user, store, scan, numbers))
        by_rule = [(rule, name, mine[rule]) for rule, name, _ in numbers.by_type if mine[rule]]
    elif numbers is not None:
        by_rule = list(numbers.by_type)
    elif user.role != UNIT and scan.status == "completed":
        by_rule = [(rule, rule, n) for rule, n in sorted(Counter(f.rule for f in store.findings(scan.id)).items())]
    else:
        by_rule = []
    problems = (visible_count(user, numbers) if numbers is not None
                else sum(n for _, _, n in by_rule) if by_rule or user.role != UNIT else None)
    return ScanDetail(scan=scan, numbers=numbers, coverage=coverage_document(stats), by_rule=by_rule,
                      problems=problems, files=files_of(scan, user), pages=pages_stored(store, scan.id), stats=stats)


# --- report files --------------------------------------------------------------------------------------------
def stored_lookback(store: Store, lb: ScanRecord) -> Any:
    """The ``LookbackResult`` of a stored look-back (its re-checks are in its stats: nothing is fetched again)."""
    from sitewatch.lookback import LookbackResult  # lazy: the look-back module loads the HTTP stack

    cfg, stats = lb.config or {}, lb.stats or {}
    baseline = store.scan(int(cfg["baseline"]))
    if baseline is None:
        raise KeyError(cfg["baseline"])
    latest = store.scan(int(cfg["latest"])) if cfg.get("latest") is not None else None
    status: dict[str, str] = dict(stats.get("classification") or {})
    notes: dict[str, str] = dict(stats.get("notes") or {})
    base = store.findings(baseline.id)
    base_fps = {f.fingerprint for f in base}
    new = [f for f in (store.findings(latest.id) if latest else []) if f.fingerprint not in base_fps]
    rows = [{"finding": f, "status": status.get(f.fingerprint, ""), "note": notes.get(f.fingerprint, ""),
             "source_scan": baseline.id if f.fingerprint in base_fps else (latest.id if latest else baseline.id)}
            for f in base + new if f.fingerprint in status]
    return LookbackResult(lb.id, baseline, latest, rows, dict(stats.get("counts") or {}), lb.as_of)


def write_file(store: Store, scan: ScanRecord, key: str, out: Path) -> Path:
    """Write the download ``key`` of ``scan`` into ``out`` with the reports' writers; its path."""
    label, writer, prefix, suffix = FILES[key]
    if writer == "report":
        from sitewatch.reporting.write import write_report

        paths = write_report(store, scan, out)
    elif writer == "lookback":
        from sitewatch.lookback import write_lookback  # lazy: the look-back module loads the HTTP stack

        paths = write_lookback(store, stored_lookback(store, scan), out)
    else:
        from sitewatch.reporting.render import safe_name
        from sitewatch.scan import findings_document, write_json  # lazy: the scan pipeline

        path = out / f"监测结果-{safe_name(scan.site)}-{scan.as_of.isoformat()}-{scan.id}.json"
        write_json(path, findings_document(store, scan.id))
        paths = [path]
    for p in paths:
        if p.name.startswith(prefix) and p.suffix == suffix:
            return p
    raise KeyError(key)


# --- the sites the console can scan, and the scans it runs ---------------------------------------------------
def scannable_sites(store: Store, configured: Sequence[SiteConfig]) -> dict[str, SiteConfig]:
    """Sites an admin may scan from the console, by name: those of ``sitewatch serve --config``, then every other
    site of the store with the settings of its latest full scan (``resume.config_from_scan``, as of today)."""
    from sitewatch.resume import config_from_scan

    out: dict[str, SiteConfig] = {}
    for cfg in configured:
        out[cfg.name or cfg.start_urls[0]] = cfg
    for s in reversed(store.scans(kind="full")):
        if s.site not in out:
            try:
                out[s.site] = replace(config_from_scan(s), as_of=None)
            except Exception:  # noqa: BLE001 - a stored config this sitewatch cannot read is not offered
                log.warning("scan %d: its stored settings cannot be read; site %s not offered", s.id, s.site)
    return dict(sorted(out.items()))


@dataclass
class Job:
    """A scan or look-back the console started (in this process)."""

    site: str
    kind: str
    scan_id: int | None = None
    live: dict[str, Any] = field(default_factory=dict)      # the crawl's last progress
    done: bool = False
    error: str = ""
    started: threading.Event = field(default_factory=threading.Event)


class Jobs:
    """The console's running scans: one at a time per site (a per-site lock), each in its own thread with its
    own store connection, as the scheduler runs them. The store's ``running`` status stays the shared truth."""

    def __init__(self, db_url: str):
        self.db_url = db_url
        self.lock = threading.Lock()
        self.running: dict[str, Job] = {}           # site → its job while it runs
        self.by_scan: dict[int, Job] = {}

    def busy(self, site: str) -> bool:
        with self.lock:
            return site in self.running

    def start(self, site: str, kind: str, run: Callable[[Store, Job], None]) -> Job | None:
        """Start ``run`` in a thread; None when a job of ``site`` runs already."""
        job = Job(site=site, kind=kind)
        with self.lock:
            if site in self.running:
                return None
            self.running[site] = job

        def target() -> None:
            store = Store(self.db_url)
            try:
                run(store, job)
            except Exception as exc:  # noqa: BLE001 - a failed scan must not take the console down
                log.exception("console %s of %s failed", kind, site)
                job.error = f"{type(exc).__name__}: {exc}"
            finally:
                job.done = True
                job.started.set()
                with self.lock:
                    self.running.pop(site, None)
                store.engine.dispose()

        threading.Thread(target=target, name=f"sitewatch-console-{kind}", daemon=True).start()
        return job

    def note_scan(self, job: Job, scan_id: int) -> None:
        with self.lock:
            job.scan_id = scan_id
            self.by_scan[scan_id] = job
        job.started.set()


class RecordingStore(Store):
    """A store that tells a job the id of the scan it creates (``start_scan`` creates it inside)."""

    def __init__(self, db: str, on_new: Callable[[int], None]):
        super().__init__(db)
        self.on_new = on_new

    def new_scan(self, site: str, start_urls: list[str], as_of: dt.date, config: dict[str, Any],
                 kind: str = "full") -> int:
        scan_id = super().new_scan(site, start_urls, as_of, config, kind)
        self.on_new(scan_id)
        return scan_id


def run_full_scan(jobs: Jobs, cfg: SiteConfig) -> Callable[[Store, Job], None]:
    def run(_store: Store, job: Job) -> None:
        from sitewatch.scan import start_scan  # lazy: the crawl loads the HTTP stack

        store = RecordingStore(jobs.db_url, lambda sid: jobs.note_scan(job, sid))
        try:
            def progress(stats: Any, queued: int) -> None:
                job.live = {"pages": stats.pages, "checked": stats.checked, "requests": stats.requests,
                            "queued": queued}
            start_scan(cfg, store, kind="full", progress=progress)
        finally:
            store.engine.dispose()
    return run


def run_lookback_job(jobs: Jobs, baseline_id: int, cfg: SiteConfig) -> Callable[[Store, Job], None]:
    def run(store: Store, job: Job) -> None:
        from sitewatch.lookback import run_lookback  # lazy: the re-checks load the HTTP stack

        baseline = store.scan(baseline_id)
        if baseline is None:
            raise KeyError(baseline_id)
        result = run_lookback(store, baseline, dt.date.today(), cfg.timeout, cfg=cfg)
        jobs.note_scan(job, result.scan_id)
    return run


def progress(store: Store, scan: ScanRecord, job: Job | None) -> dict[str, Any]:
    """The progress of a scan (``/scans/{id}/progress``): the crawl's live counts when this console runs it, else
    the pages stored so far."""
    stats = scan.stats or {}
    live = dict(job.live) if job is not None and not job.done else {}
    running = scan.status == "running"
    return {"id": scan.id, "status": scan.status, "status_zh": STATUS_ZH.get(scan.status, scan.status),
            "pages": live.get("pages", pages_stored(store, scan.id) if running else stats.get("pages")),
            "checked": live.get("checked", stats.get("checked")),
            "requests": live.get("requests", stats.get("requests")),
            "queued": live.get("queued"), "finished": not running}


@dataclass(frozen=True)
class SiteExtras:
    """What the 首页 shows of a site beside its latest audit: the trend, open and overdue problems by unit."""

    trend: list[TrendPoint]
    bars: list[dict[str, Any]]
    by_unit: list[tuple[str, int, int]]         # (责任科室, problems, overdue) the user may see
    overdue: int


def site_extras(store: Store, user: User, sites: Sequence[str]) -> dict[str, SiteExtras]:
    out = {}
    for site in sites:
        trend = site_trend(store, site, user)
        audit = store.latest_scan(site)
        by_unit: list[tuple[str, int, int]] = []
        overdue = 0
        if audit is not None:
            n = scan_numbers(store, audit)
            by_unit = [(u, c, int(n.overdue_by_unit.get(u, 0))) for u, c in n.by_unit.items()
                       if user.role != UNIT or u == user.unit]
            overdue = sum(o for _, _, o in by_unit)
        out[site] = SiteExtras(trend=trend, bars=trend_bars(trend), by_unit=by_unit, overdue=overdue)
    return out
