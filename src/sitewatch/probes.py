"""Availability probes (V1 站点无法访问): one GET per probe, a probe log in the store, per-day and per-week shares.

A probe fails when the page is not fully loaded within the timeout (15 s by the national rule): timeouts,
DNS/TLS/connection errors and 4xx/5xx answers (after redirects) all count. The judgement (the share of failed
probes that is a veto, the probes a day needs) is the ``availability.down`` rule: ``sitewatch.rules.availability``
with its numbers in the pack.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import insert, select

from sitewatch.config import SiteConfig
from sitewatch.crawl.fetch import Fetcher, FetchResult, _classify_error
from sitewatch.crawl.netpolicy import NetPolicy
from sitewatch.crawl.politeness import Politeness
from sitewatch.defaults import DEFAULT_USER_AGENT
from sitewatch.store import ProbeRow, Store

PROBE_TIMEOUT = 15.0
MAX_PROBE_BODY = 8 * 1024 * 1024


@dataclass(slots=True)
class ProbeResult:
    url: str
    at: dt.datetime
    ok: bool
    status: int | None = None
    latency_ms: int | None = None
    error: str = ""
    final_url: str = ""


async def _probe_get(url: str, timeout: float, *, user_agent: str, verify: bool, proxy: str | None,
                     ca_bundle: str | None, policy: NetPolicy) -> FetchResult:
    """One GET through the crawl's fetcher, bounded as a whole by ``timeout``. Direct hops resolve each host
    once, through the policy's resolver, and connect only to the addresses it checked (a name that answers a
    public address to one lookup and 127.0.0.1 to the next cannot get in); proxied hops are resolved by the
    proxy, as in the crawl. A 429 is a failed probe at once: no Retry-After is waited for. A probe keeps to no
    fleet's shared budget (``SiteConfig.shared_budget``): one request per site every half hour or so does not need
    one, and a probe must answer even when Redis does not."""
    fetcher = Fetcher(Politeness(1, 0, obey_robots=False), timeout=timeout, retries=0, user_agent=user_agent,
                      verify_tls=verify, policy=policy, proxy=proxy, ca_bundle=ca_bundle, rate_limit_waits=0)
    try:
        async with asyncio.timeout(timeout):
            return await fetcher.fetch(url, body_limit=MAX_PROBE_BODY, obey_robots=False)
    finally:
        await fetcher.aclose()


def probe(url: str, timeout: float = PROBE_TIMEOUT, *, user_agent: str = DEFAULT_USER_AGENT,
          verify: bool = True, proxy: str | None = None, ca_bundle: str | None = None,
          policy: NetPolicy | None = None) -> ProbeResult:
    """One GET of ``url``; ok when a 2xx page (after redirects) is fully loaded within ``timeout`` seconds.
    Every hop goes through the proxy of the environment or ``proxy`` and obeys the network policy (by default
    the one of a site at ``url``), checked on the address actually connected to."""
    at = dt.datetime.now()
    t0 = time.monotonic()
    status: int | None = None
    final = ""
    error = ""
    policy = policy if policy is not None else NetPolicy.for_site([url])
    try:
        res = asyncio.run(_probe_get(url, timeout, user_agent=user_agent, verify=verify, proxy=proxy,
                                     ca_bundle=ca_bundle, policy=policy))
        status, final = res.status, res.final_url
        if res.error:
            error = f"{res.error}: {res.detail}"[:300]
    except TimeoutError:
        error = f"timeout: page not loaded within {timeout:g} s"
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
        c.execute(insert(ProbeRow).values(site=site, url=result.url, at=result.at, ok=result.ok, status=result.status,
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
        doc: dict[str, Any] = jsonable(asdict(self))
        return doc


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
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
                 urls: Collection[str] | None = None, *, threshold: float, probes_per_day: int) -> Availability:
    """Probe statistics of ``site`` in [start, end): per day, per 7-day week from ``start``, and the outages;
    a week is a veto at ``threshold`` (share of failed probes), sampled with ``probes_per_day`` every day.

    ``urls`` limits the count to those URLs (V1 counts the homepage); None counts every probed URL.
    """
    start, end = _as_datetime(start), _as_datetime(end)
    q = (select(ProbeRow).where(ProbeRow.c.site == site, ProbeRow.c.at >= start, ProbeRow.c.at < end)
         .order_by(ProbeRow.c.at, ProbeRow.c.id))
    if urls is not None:
        q = q.where(ProbeRow.c.url.in_(list(urls)))
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
