"""Adaptive politeness: back-off on 429, 503, 504 and timeouts, recovery, and the caps it never exceeds.

The caps are asserted from the test server's own request log. Load on the test machine only makes requests
later, so the log's upper bounds (requests at once, requests in a window) hold however slow the machine is; no
test asserts a speed. A window is a little shorter than 1 s (0.85 s): at 4 requests/s, five request starts span
1.0 s on the client, and a first request delayed on its way to the server (a new connection, a busy thread) could
otherwise land in the same second as the fifth; a limiter only 20% too fast still puts five in 0.85 s.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from contextlib import redirect_stdout
from urllib.parse import urlsplit

import pytest
from conftest import scan_site
from loopback import Answer, LoopbackSite, page

from sitewatch.crawl.fetch import Fetcher
from sitewatch.crawl.netpolicy import NetPolicy
from sitewatch.crawl.politeness import BACKOFF_START, MAX_ADAPTIVE_DELAY, HostLimiter, Politeness


class RequestLog:
    """Answers every path of a LoopbackSite and logs (path, arrived, answered) per request, monotonic seconds.
    ``answers`` maps a path to an Answer or to a function of the path's nth request; each answer is held
    ``hold`` seconds (or its delay) so that requests in flight overlap."""

    def __init__(self, answers: dict[str, object], hold: float = 0.05):
        self.entries: list[tuple[str, float, float]] = []
        self._lock = threading.Lock()
        self._hold = hold
        self._answers = answers
        self._nth: dict[str, int] = {}

    def __call__(self, path: str) -> Answer:
        arrived = time.monotonic()
        with self._lock:
            n = self._nth[path] = self._nth.get(path, 0) + 1
        route = self._answers.get(path)
        ans = route(n) if callable(route) else route
        if ans is None:
            ans = Answer(404, page("Not Found", "nothing here"))
        time.sleep(max(self._hold, ans.delay))
        with self._lock:
            self.entries.append((path, arrived, time.monotonic()))
        return Answer(ans.status, ans.body, ans.headers, ans.content_type)

    def max_simultaneous(self) -> int:
        events = sorted([(t0, 1) for _, t0, _ in self.entries] + [(t1, -1) for _, _, t1 in self.entries],
                        key=lambda e: (e[0], e[1]))
        now = peak = 0
        for _, step in events:
            now += step
            peak = max(peak, now)
        return peak

    def max_in_window(self, seconds: float) -> int:
        starts = sorted(t0 for _, t0, _ in self.entries)
        peak = j = 0
        for i, t in enumerate(starts):
            while starts[j] <= t - seconds:
                j += 1
            peak = max(peak, i - j + 1)
        return peak

    def times(self, path: str) -> list[float]:
        return sorted(t0 for p, t0, _ in self.entries if p == path)


def logged_site(answers: dict[str, object], hold: float = 0.05) -> tuple[LoopbackSite, RequestLog]:
    """A LoopbackSite whose every path is answered (and logged) by a RequestLog."""
    site = LoopbackSite()
    log = RequestLog(answers, hold)

    class Routes(dict):
        def get(self, path, default=None):
            bare = urlsplit(path).path
            return lambda method, nth: log(bare)

    site.routes = Routes()
    return site, log


# --- the algorithm, without a network -----------------------------------------------------------------------------

def test_backoff_doubles_once_per_round_up_to_the_ceiling():
    lim = HostLimiter(concurrency=4, rate=4, adaptive=True)
    assert lim.interval == 0.25
    sent = time.monotonic()
    lim.record(sent, overloaded=True, fast=False)
    assert (lim.interval, lim.backoffs) == (0.5, 1)
    for _ in range(3):               # the other requests of the same round answer 429 too: one signal, not four
        lim.record(sent, overloaded=True, fast=False)
    assert (lim.interval, lim.backoffs) == (0.5, 1)
    for _ in range(10):
        lim.record(time.monotonic() + 1, overloaded=True, fast=False)
    assert lim.interval == MAX_ADAPTIVE_DELAY
    assert lim.max_interval == MAX_ADAPTIVE_DELAY


def test_recovery_is_additive_and_stops_at_the_configured_rate():
    lim = HostLimiter(concurrency=4, rate=4, adaptive=True)
    lim.record(time.monotonic(), overloaded=True, fast=False)
    lim.record(time.monotonic() + 1, overloaded=True, fast=False)
    assert lim.interval == 1.0
    later = time.monotonic() + 2
    lim.record(later, overloaded=False, fast=False)          # a slow answer holds the delay
    assert lim.interval == 1.0
    steps = []
    while lim.interval > lim.floor:
        lim.record(later, overloaded=False, fast=True)
        steps.append(lim.interval)
        assert len(steps) < 100
    assert steps == sorted(steps, reverse=True)               # only ever faster, one step at a time
    assert len(steps) == 12                                  # 1 → 1.25 → … → 3.75 req/s, then the cap of 4
    assert lim.interval == 0.25
    for _ in range(20):
        lim.record(later, overloaded=False, fast=True)
    assert lim.interval == 0.25                              # never above the configured rate
    assert lim.report("http://h") == {"host": "http://h", "requests": 35, "backoffs": 2, "delay": 0.25,
                                      "min_delay": 0.25, "max_delay": 1.0}


def test_unlimited_rate_stays_unlimited():
    """rate 0 asks for no limit (one's own or a loopback server): no back-off, only Retry-After pauses."""
    lim = HostLimiter(concurrency=4, rate=0, adaptive=True)
    for _ in range(50):
        lim.record(time.monotonic(), overloaded=False, fast=True)
    lim.record(time.monotonic(), overloaded=True, fast=False)
    assert lim.interval == 0.0 and lim.backoffs == 0


def test_a_capped_rate_backs_off_and_recovers_to_the_cap():
    lim = HostLimiter(concurrency=4, rate=100, adaptive=True)
    lim.record(time.monotonic(), overloaded=True, fast=False)
    assert lim.interval == BACKOFF_START
    later = time.monotonic() + 1
    for _ in range(1000):
        lim.record(later, overloaded=False, fast=True)
        if lim.interval == lim.floor:
            break
    assert lim.interval == 0.01


def test_crawl_delay_is_a_floor_the_adaptive_rate_never_goes_below():
    lim = HostLimiter(concurrency=4, rate=0, adaptive=True)
    lim.set_floor(2.0)
    assert lim.interval == 2.0
    lim.record(time.monotonic(), overloaded=True, fast=False)
    assert lim.interval == 4.0
    later = time.monotonic() + 1
    for _ in range(200):
        lim.record(later, overloaded=False, fast=True)
    assert lim.interval == 2.0
    lim.set_floor(9.0)                                       # a Crawl-delay above the back-off ceiling still wins
    lim.record(time.monotonic() + 2, overloaded=True, fast=False)
    assert lim.interval == 9.0


def test_without_adaptive_the_interval_stays_at_the_cap():
    lim = HostLimiter(concurrency=4, rate=4, adaptive=False)
    for _ in range(5):
        lim.record(time.monotonic(), overloaded=True, fast=False)
    assert (lim.interval, lim.backoffs, lim.requests) == (0.25, 0, 5)


# --- on a loopback server -----------------------------------------------------------------------------------------

def fetch_all(urls: list[str], *, rate: float = 0, concurrency: int = 4, timeout: float = 2, retries: int = 1,
              sequential: bool = True) -> tuple[Politeness, list]:
    async def go():
        pol = Politeness(concurrency, rate, obey_robots=False, adaptive=True)
        fetcher = Fetcher(pol, timeout=timeout, retries=retries, policy=NetPolicy.from_allow(["127.0.0.1"]))
        try:
            if sequential:
                return pol, [await fetcher.fetch(u) for u in urls]
            return pol, list(await asyncio.gather(*(fetcher.fetch(u) for u in urls)))
        finally:
            await fetcher.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("retry_after", [None, "1"])
def test_429_backs_off_honours_retry_after_then_recovers(retry_after):
    headers = {"Retry-After": retry_after} if retry_after else {}
    answers = {"/busy": lambda n: Answer(429, "slow down", headers) if n == 1 else Answer(200, page("ok")),
               **{f"/p{i}": Answer(200, page(f"p{i}")) for i in range(10)}}
    site, log = logged_site(answers)
    with site:
        pol, results = fetch_all([site.url("/busy")] + [site.url(f"/p{i}") for i in range(10)], rate=4)
    lim = pol.limiter(site.base)
    assert [r.status for r in results] == [200] * 11
    first, second = log.times("/busy")
    assert second - first >= 0.9                             # Retry-After 1 (or the 1 s default wait) was waited out
    assert (lim.backoffs, lim.max_interval) == (1, 0.5)
    assert lim.interval == 0.25                              # 8 clean answers: 2 → 4 requests/s, the cap again
    assert log.max_in_window(0.85) <= 4


@pytest.mark.parametrize("status", [503, 504])
def test_overloaded_status_backs_off_then_recovers(status):
    answers = {"/busy": lambda n: Answer(status, "busy", {"Retry-After": "1"}) if n == 1 else Answer(200, page("ok")),
               **{f"/p{i}": Answer(200, page(f"p{i}")) for i in range(10)}}
    site, log = logged_site(answers)
    with site:
        pol, results = fetch_all([site.url("/busy")] + [site.url(f"/p{i}") for i in range(10)], rate=4)
    lim = pol.limiter(site.base)
    assert [r.status for r in results] == [200] * 11         # retried once (retries=1)
    first, second = log.times("/busy")
    if status == 503:
        assert second - first >= 0.9                         # a 503's Retry-After pauses the host too
    assert lim.backoffs == 1
    assert lim.interval == 0.25


def test_timeouts_back_off_once_per_round_then_recover():
    answers = {**{f"/slow{i}": Answer(200, page("late"), delay=1.0) for i in range(4)},
               **{f"/p{i}": Answer(200, page(f"p{i}")) for i in range(10)}}
    site, log = logged_site(answers)
    with site:
        pol, results = fetch_all([site.url(f"/slow{i}") for i in range(4)], rate=100, timeout=0.4, retries=0,
                                 sequential=False)
        lim = pol.limiter(site.base)
        assert [r.error for r in results] == ["timeout"] * 4
        assert lim.backoffs == 1                             # four requests of one round timed out: one back-off
        assert lim.interval == BACKOFF_START
        pol2, results = fetch_all([site.url(f"/p{i}") for i in range(10)], rate=0, timeout=2)
    assert [r.status for r in results] == [200] * 10
    assert pol2.limiter(site.base).backoffs == 0


def test_a_scan_never_exceeds_the_configured_caps(tmp_path):
    """A crawl at rate 4, concurrency 2 of a site that answers 429 and 503 now and then: the server's log never
    sees more than 2 requests at once, nor more than 4 in any 0.85 s window (see the module's docstring)."""
    links = "".join(f"<a href='/s/p{i}.html'>p{i}</a>" for i in range(16))
    answers: dict[str, object] = {"/s/": Answer(200, page("首页", links))}
    for i in range(16):
        answers[f"/s/p{i}.html"] = Answer(200, page(f"p{i}", "<a href='/s/'>首页</a>"))
    answers["/s/p3.html"] = lambda n: Answer(503, "busy") if n == 1 else Answer(200, page("p3"))
    answers["/s/p7.html"] = lambda n: Answer(429, "slow", {"Retry-After": "1"}) if n == 1 else Answer(200, page("p7"))
    site, log = logged_site(answers, hold=0.1)
    with site:
        result, store = scan_site(site.url("/s/"), str(tmp_path / "sw.db"), rate=4, concurrency=2)
    assert result.stats.pages == 17
    assert log.max_simultaneous() <= 2
    assert log.max_in_window(0.85) <= 4
    assert len(log.entries) == result.stats.requests
    hosts = result.stats.throttle
    assert [h["host"] for h in hosts] == [site.base]
    assert hosts[0]["backoffs"] >= 1 and hosts[0]["min_delay"] == 0.25 and hosts[0]["max_delay"] >= 0.5
    assert hosts[0]["requests"] == len(log.entries)

    from sitewatch.commands.scan import print_summary
    from sitewatch.scan import findings_document

    doc = findings_document(store, result.scan_id)
    assert doc["scan"]["throttle"] == hosts
    out = io.StringIO()
    with redirect_stdout(out):
        print_summary(doc, "sw.db", None)
    assert "politeness: backed off on 1 host:" in out.getvalue()
    assert f"{hosts[0]['backoffs']} back-off" in out.getvalue()


def test_crawl_delay_wins_over_a_faster_adaptive_rate(tmp_path):
    links = "".join(f"<a href='/s/p{i}.html'>p{i}</a>" for i in range(3))
    answers: dict[str, object] = {"/robots.txt": Answer(200, "User-agent: *\nCrawl-delay: 1\n", content_type="text/plain"),
                                  "/s/": Answer(200, page("首页", links))}
    for i in range(3):
        answers[f"/s/p{i}.html"] = Answer(200, page(f"p{i}"))
    site, log = logged_site(answers, hold=0.0)
    with site:
        result, _ = scan_site(site.url("/s/"), str(tmp_path / "sw.db"), rate=0, concurrency=4)
    assert result.stats.pages == 4
    pages = sorted(t0 for p, t0, _ in log.entries if p != "/robots.txt")
    assert len(pages) >= 4
    assert log.max_in_window(0.8) <= 1                       # one request a second, although rate 0 is unlimited
    assert result.stats.throttle[0]["min_delay"] == 1.0
    assert result.stats.throttle[0]["delay"] == 1.0


def test_adaptive_off_keeps_the_rate(tmp_path):
    answers: dict[str, object] = {
        "/s/": lambda n: Answer(503, "busy") if n == 1 else Answer(200, page("首页"))}
    site, log = logged_site(answers)
    with site:
        result, _ = scan_site(site.url("/s/"), str(tmp_path / "sw.db"), rate=0, adaptive=False)
    assert result.stats.pages == 1
    assert result.stats.throttle[0]["backoffs"] == 0 and result.stats.throttle[0]["max_delay"] == 0
