"""Availability probes (V1 站点无法访问): one GET per probe, a probe log in the store, per-day and per-week shares.

A probe fails when the page is not fully loaded within the timeout (15 s by the national rule): timeouts,
DNS/TLS/connection errors and 4xx/5xx answers (after redirects) all count. The veto applies when failed
probes reach 5% of a monitoring week; the rule also requires at least 20 probes on every day of that week.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import insert, select

from sitewatch.addresses import parse_ip
from sitewatch.config import SiteConfig
from sitewatch.crawl.fetch import MAX_REDIRECTS, _classify_error, proxy_for, tls_context
from sitewatch.crawl.netpolicy import BLOCKED_REASON, NetPolicy, _resolve_quietly
from sitewatch.defaults import DEFAULT_USER_AGENT
from sitewatch.models import VETO, Finding
from sitewatch.packs import load_rules
from sitewatch.store import Probe, Store

PROBE_TIMEOUT = 15.0
FAIL_SHARE = 0.05
PROBES_PER_DAY = 20
MONITOR_DAYS = 7
MAX_PROBE_BODY = 8 * 1024 * 1024
RULE = "availability.down"


@dataclass(slots=True)
class ProbeResult:
    url: str
    at: dt.datetime
    ok: bool
    status: int | None = None
    latency_ms: int | None = None
    error: str = ""
    final_url: str = ""


def _blocked(policy: NetPolicy, url: str, proxied: bool) -> str | None:
    """Why the network policy refuses ``url``: its host as written, and (without a proxy) every address it
    resolves to. (httpx resolves again to connect; the crawl's own requests connect to the checked address.)"""
    host = urlsplit(url).hostname or ""
    why = policy.check_host(host)
    if why or proxied or parse_ip(host) is not None:
        return why
    for ip in _resolve_quietly(host):
        why = policy.check_resolved(host, ip)
        if why:
            return why
    return None


def probe(url: str, timeout: float = PROBE_TIMEOUT, *, user_agent: str = DEFAULT_USER_AGENT,
          verify: bool = True, proxy: str | None = None, ca_bundle: str | None = None,
          policy: NetPolicy | None = None) -> ProbeResult:
    """One GET of ``url``; ok when a 2xx page (after redirects) is fully loaded within ``timeout`` seconds.
    Every hop goes through the proxy of the environment or ``proxy`` and obeys the network policy (by default
    the one of a site at ``url``)."""
    at = dt.datetime.now()
    t0 = time.monotonic()
    status: int | None = None
    final = ""
    error = ""
    policy = policy if policy is not None else NetPolicy.for_site([url])
    headers = {"User-Agent": user_agent, "Accept": "text/html,*/*;q=0.8"}
    current = url
    try:
        for _ in range(MAX_REDIRECTS + 1):
            via = proxy_for(current, proxy)
            why = _blocked(policy, current, via is not None)
            if why:
                error = f"{BLOCKED_REASON}: {why}"
                break
            left = max(0.001, timeout - (time.monotonic() - t0))
            with httpx.Client(timeout=httpx.Timeout(left), follow_redirects=False,
                              verify=tls_context(verify, ca_bundle), proxy=via, trust_env=False,
                              headers=headers) as client:
                with client.stream("GET", current) as resp:
                    status, final = resp.status_code, str(resp.url)
                    if resp.is_redirect and resp.headers.get("location"):
                        current = str(resp.url.join(resp.headers["location"]))
                        continue
                    size = 0
                    for chunk in resp.iter_bytes():
                        size += len(chunk)
                        if time.monotonic() - t0 > timeout:
                            raise httpx.ReadTimeout(f"page not loaded within {timeout:g} s")
                        if size > MAX_PROBE_BODY:
                            break
                    break
        else:
            error = f"too_many_redirects: more than {MAX_REDIRECTS} redirects"
    except Exception as exc:  # noqa: BLE001 - every failure is a failed probe
        kind, text = _classify_error(exc)
        error = f"{kind}: {text}"[:300]
    elapsed = time.monotonic() - t0
    if not error and elapsed > timeout:
        error = f"timeout: page not loaded within {timeout:g} s"
    if not error and status is not None and not 200 <= status < 300:
        error = f"HTTP {status}"
    return ProbeResult(url=url, at=at, ok=not error, status=status, latency_ms=int(elapsed * 1000),
                       error=error, final_url=final)


def record_probe(store: Store, site: str, result: ProbeResult) -> None:
    """Append one probe to the probe log (written at once, not buffered)."""
    with store.engine.begin() as c:
        c.execute(insert(Probe).values(site=site, url=result.url, at=result.at, ok=result.ok, status=result.status,
                                       latency_ms=result.latency_ms, error=result.error))


def site_key(cfg: SiteConfig) -> str:
    """The name a site's scans and probes are stored under (as ``run_scan`` does)."""
    return cfg.name or cfg.start_urls[0]


def probe_round(store: Store, cfg: SiteConfig, extra_urls: Sequence[str] = (),
                timeout: float = PROBE_TIMEOUT) -> list[ProbeResult]:
    """Probe the homepage and ``extra_urls`` once each and record every result."""
    results = []
    policy = NetPolicy.for_site(cfg.start_urls, cfg.network_allow)
    for url in dict.fromkeys([cfg.start_urls[0], *extra_urls]):
        r = probe(url, timeout, user_agent=cfg.user_agent, verify=cfg.verify_tls, proxy=cfg.proxy,
                  ca_bundle=cfg.ca_bundle, policy=policy)
        record_probe(store, site_key(cfg), r)
        results.append(r)
    return results


@dataclass
class DayAvailability:
    day: dt.date
    probes: int
    failures: int
    share: float
    sampling_met: bool


@dataclass
class WeekAvailability:
    start: dt.date
    end: dt.date                  # last day, inclusive
    probes: int
    failures: int
    share: float
    complete: bool                # seven days inside the window
    sampling_met: bool            # complete and every day has enough probes
    veto: bool


@dataclass
class Outage:
    url: str
    start: dt.datetime            # first failed probe
    end: dt.datetime              # first successful probe after it, or the last failed one when still down
    probes: int
    ongoing: bool
    errors: dict[str, int] = field(default_factory=dict)


@dataclass
class Availability:
    site: str
    start: dt.datetime
    end: dt.datetime
    urls: list[str]
    probes: int
    failures: int
    share: float
    threshold: float
    probes_per_day: int
    veto: bool                    # some week reaches the threshold
    sampling_met: bool            # every week is complete and sampled enough
    days: list[DayAvailability]
    weeks: list[WeekAvailability]
    outages: list[Outage]

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = _jsonable(asdict(self))
        return doc


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    return value


def _as_datetime(value: dt.datetime | dt.date) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())


def availability(store: Store, site: str, start: dt.datetime | dt.date, end: dt.datetime | dt.date,
                 urls: Collection[str] | None = None, *, threshold: float = FAIL_SHARE,
                 probes_per_day: int = PROBES_PER_DAY) -> Availability:
    """Probe statistics of ``site`` in [start, end): per day, per 7-day week from ``start``, and the outages.

    ``urls`` limits the count to those URLs (V1 counts the homepage); None counts every probed URL.
    """
    start, end = _as_datetime(start), _as_datetime(end)
    q = (select(Probe).where(Probe.c.site == site, Probe.c.at >= start, Probe.c.at < end)
         .order_by(Probe.c.at, Probe.c.id))
    if urls is not None:
        q = q.where(Probe.c.url.in_(list(urls)))
    with store.engine.connect() as c:
        rows = c.execute(q).all()
    first_day, last_day = start.date(), (end - dt.timedelta(microseconds=1)).date()
    n_days = (last_day - first_day).days + 1
    per_day: dict[dt.date, list[int]] = {first_day + dt.timedelta(days=i): [0, 0] for i in range(max(n_days, 0))}
    for r in rows:
        counts = per_day.setdefault(r.at.date(), [0, 0])
        counts[0] += 1
        counts[1] += 0 if r.ok else 1
    days = [DayAvailability(d, n, f, f / n if n else 0.0, n >= probes_per_day) for d, (n, f) in sorted(per_day.items())]
    weeks: list[WeekAvailability] = []
    for i in range(0, len(days), 7):
        chunk = days[i:i + 7]
        n, f = sum(d.probes for d in chunk), sum(d.failures for d in chunk)
        share = f / n if n else 0.0
        complete = len(chunk) == 7
        weeks.append(WeekAvailability(chunk[0].day, chunk[-1].day, n, f, share, complete,
                                      complete and all(d.sampling_met for d in chunk), n > 0 and share >= threshold))
    total, failed = len(rows), sum(1 for r in rows if not r.ok)
    return Availability(site=site, start=start, end=end, urls=sorted({r.url for r in rows}), probes=total,
                        failures=failed, share=failed / total if total else 0.0, threshold=threshold,
                        probes_per_day=probes_per_day, veto=any(w.veto for w in weeks),
                        sampling_met=bool(weeks) and all(w.sampling_met for w in weeks), days=days, weeks=weeks,
                        outages=outages(rows))


def outages(rows: Sequence[Any]) -> list[Outage]:
    """Runs of consecutive failed probes of each URL, in time order."""
    out: list[Outage] = []
    current: dict[str, Outage] = {}
    for r in rows:
        o = current.get(r.url)
        if not r.ok:
            label = r.error.split(":")[0] if r.error and not r.error.startswith("HTTP") else (r.error or "failed")
            if o is None:
                o = current[r.url] = Outage(url=r.url, start=r.at, end=r.at, probes=0, ongoing=True)
                out.append(o)
            o.probes += 1
            o.end = r.at
            o.errors[label] = o.errors.get(label, 0) + 1
        elif o is not None:
            o.end, o.ongoing = r.at, False
            del current[r.url]
    return out


def availability_findings(store: Store, cfg: SiteConfig, start: dt.datetime | dt.date,
                          end: dt.datetime | dt.date, ruleset: Any = None) -> list[Finding]:
    """An ``availability.down`` finding when failed homepage probes reach the threshold in some week of the window."""
    if ruleset is None:
        ruleset = load_rules([Path(p) for p in cfg.rule_packs], cfg.rule_overrides)
    if not ruleset.enabled(RULE):
        return []
    th = ruleset.get(RULE).threshold
    home = cfg.start_urls[0]
    av = availability(store, site_key(cfg), start, end, [home], threshold=float(th.get("fail_share", FAIL_SHARE)),
                      probes_per_day=int(th.get("probes_per_day", PROBES_PER_DAY)))
    if not av.veto:
        return []
    worst = max((w for w in av.weeks if w.veto), key=lambda w: w.share)
    errors = Counter[str]()
    for o in av.outages:
        errors.update(o.errors)
    message = (f"首页可用性监测 {worst.start}至{worst.end}：{worst.failures}/{worst.probes} 次访问失败"
               f"（{worst.share:.1%}），达到 {av.threshold:.0%} 单项否决线")
    if not worst.sampling_met:
        message += f"（监测未满一周或每天少于 {av.probes_per_day} 次）"
    evidence = {"probes": worst.probes, "failures": worst.failures, "share": round(worst.share, 4),
                "threshold": av.threshold, "week": [worst.start.isoformat(), worst.end.isoformat()],
                "sampling_met": worst.sampling_met, "window_probes": av.probes, "window_failures": av.failures,
                "errors": dict(errors.most_common()),
                "days": _jsonable([asdict(d) for d in av.days]),
                "outages": _jsonable([asdict(o) for o in av.outages])}
    return [Finding(rule=RULE, severity=ruleset.severity(RULE) or VETO, url=home, message=message,
                    found_on=[], evidence=evidence)]
