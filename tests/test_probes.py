"""Availability probes against loopback servers with planted outages, and the V1 veto arithmetic."""

from __future__ import annotations

import dataclasses
import datetime as dt
from functools import partial

import pytest
from loopback import Answer, LoopbackSite, page, refused_port

from sitewatch.config import SiteConfig
from sitewatch.packs import load_rules
from sitewatch.probes import availability as probe_stats
from sitewatch.probes import probe, probe_round, record_probe
from sitewatch.rules.availability import availability_findings, thresholds
from sitewatch.store import Store

TIMEOUT = 0.4
DAY0 = dt.datetime(2026, 11, 2)

TH = thresholds(load_rules())
availability = partial(probe_stats, threshold=TH.fail_share, probes_per_day=TH.probes_per_day)


def flaky(fail_500: set[int], slow: set[int]):
    """A homepage route failing on chosen requests: 500 answers, or answers slower than the probe timeout."""
    def route(method: str, nth: int) -> Answer:
        if nth in fail_500:
            return Answer(500, page("error"))
        if nth in slow:
            return Answer(200, page("slow"), delay=TIMEOUT + 0.4)
        return Answer(200, page("首页", "<p>ok</p>"))
    return route


def run_series(store: Store, site: LoopbackSite, name: str, per_day: list[int]) -> None:
    """Probe the loopback homepage once per slot; slots are spread over the days of ``per_day``."""
    for day, n in enumerate(per_day):
        for i in range(n):
            at = DAY0 + dt.timedelta(days=day, minutes=int(i * 24 * 60 / n))
            r = probe(site.url("/"), TIMEOUT)
            record_probe(store, name, dataclasses.replace(r, at=at))


def test_probe_classifies_answers(db):
    routes = {"/": Answer(200, page("首页")), "/moved": Answer(302, "", headers={"Location": "/"}),
              "/gone": Answer(302, "", headers={"Location": "/nowhere"}), "/err": Answer(503, "busy"),
              "/slow": Answer(200, page("slow"), delay=TIMEOUT + 0.4)}
    with LoopbackSite(routes) as site:
        ok, moved, gone, err, slow = (probe(site.url(p), TIMEOUT) for p in ("/", "/moved", "/gone", "/err", "/slow"))
    refused = probe(f"http://127.0.0.1:{refused_port()}/", TIMEOUT)
    assert ok.ok and ok.status == 200 and ok.latency_ms is not None
    assert moved.ok and moved.final_url.endswith("/")
    assert not gone.ok and gone.error == "HTTP 404"
    assert not err.ok and err.error == "HTTP 503"
    assert not slow.ok and slow.error.startswith("timeout")
    assert not refused.ok and refused.error.startswith(("refused", "connect"))


def test_planted_outages_reach_the_veto(db):
    """7 days x 20 probes with 4 HTTP 500 + 3 timeouts = 7/140 = 5.0%: the veto applies (>= 5%)."""
    store = Store(db)
    with LoopbackSite({"/": flaky({31, 32, 33, 34}, {90, 91, 92})}) as site:
        run_series(store, site, "t", [20] * 7)
        cfg = SiteConfig(name="t", start_urls=[site.url("/")])
    av = availability(store, "t", DAY0, DAY0 + dt.timedelta(days=7))
    assert (av.probes, av.failures) == (140, 7)
    assert av.share == pytest.approx(0.05)
    assert av.veto and av.sampling_met
    assert [d.probes for d in av.days] == [20] * 7 and [d.failures for d in av.days] == [0, 4, 0, 0, 3, 0, 0]
    assert len(av.weeks) == 1 and av.weeks[0].veto and av.weeks[0].complete
    assert [(o.probes, o.ongoing) for o in av.outages] == [(4, False), (3, False)]
    assert av.outages[0].errors == {"HTTP 500": 4} and av.outages[1].errors == {"timeout": 3}
    assert av.outages[0].start == DAY0 + dt.timedelta(days=1, minutes=10 * 72)
    assert av.outages[0].end == DAY0 + dt.timedelta(days=1, minutes=14 * 72)     # first good probe after it
    [f] = availability_findings(store, cfg, DAY0, DAY0 + dt.timedelta(days=7))
    assert f.rule == "availability.down" and f.severity == "veto" and f.url == site.url("/")
    assert (f.evidence["probes"], f.evidence["failures"], f.evidence["share"]) == (140, 7, 0.05)
    assert len(f.evidence["days"]) == 7 and len(f.evidence["outages"]) == 2
    assert "7/140" in f.message


def test_just_under_five_percent_is_not_a_veto(db):
    """141 probes with 7 failures = 4.96%: no veto, no finding; a day with 19 probes misses the sampling rule."""
    store = Store(db)
    with LoopbackSite({"/": flaky({5, 6}, {60, 61, 62, 100, 101})}) as site:
        run_series(store, site, "u", [21, 20, 20, 20, 20, 20, 20])
        cfg = SiteConfig(name="u", start_urls=[site.url("/")])
        run_series(store, site, "short", [20, 19, 20, 20, 20, 20, 20])
    av = availability(store, "u", DAY0, DAY0 + dt.timedelta(days=7))
    assert (av.probes, av.failures) == (141, 7)
    assert av.share < 0.05 and not av.veto and av.sampling_met
    assert availability_findings(store, cfg, DAY0, DAY0 + dt.timedelta(days=7)) == []
    short = availability(store, "short", DAY0, DAY0 + dt.timedelta(days=7))
    assert not short.sampling_met and [d.sampling_met for d in short.days].count(False) == 1


def test_partial_week_and_ongoing_outage(db):
    store = Store(db)
    with LoopbackSite({"/": flaky(set(range(18, 100)), set())}) as site:
        run_series(store, site, "p", [20])
    av = availability(store, "p", DAY0, DAY0 + dt.timedelta(days=1))
    assert av.veto and not av.sampling_met and not av.weeks[0].complete
    assert len(av.outages) == 1 and av.outages[0].ongoing and av.outages[0].probes == 3


def test_probe_round_records_homepage_and_key_pages(db):
    store = Store(db)
    with LoopbackSite({"/": Answer(200, page("首页")), "/zwgk/": Answer(404, "no")}) as site:
        cfg = SiteConfig(name="r", start_urls=[site.url("/")])
        results = probe_round(store, cfg, [site.url("/zwgk/")], TIMEOUT)
    assert [r.ok for r in results] == [True, False]
    end = dt.datetime.now() + dt.timedelta(seconds=1)
    assert availability(store, "r", end - dt.timedelta(days=1), end).probes == 2
    assert availability(store, "r", end - dt.timedelta(days=1), end, [site.url("/")]).failures == 0
