"""The test fleet (tests/fleetsite.py): 25 town sites, 20 under one host, 5 on hosts of their own, whose servers log
every request; checked against the site models and against single-process scans of two of its sites."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import scan_site
from fleetsite import (
    DEFAULT_SCALE,
    FleetServer,
    Request,
    max_in_flight,
    max_in_window,
    max_overlap,
)
from sqlalchemy import select
from townsite import BLANK_COLUMNS, STALE_COLUMNS, TODAY, TownSite, reachable_pages

CONCURRENCY = 8


@pytest.fixture(scope="module")
def fleet():
    with FleetServer() as srv:
        yield srv


def _scan(fleet, site, tmp_path_factory):
    fleet.reset_log()
    db = str(tmp_path_factory.mktemp("fleetsite") / "sw.db")
    result, store = scan_site(site.start_url, db, as_of=TODAY, name=site.name, timeout=5, concurrency=CONCURRENCY)
    logs = {host: fleet.log(host) for host in fleet.hosts}
    return result, store, logs


@pytest.fixture(scope="module")
def scans(fleet, tmp_path_factory):
    """One scan of a sub-site of the shared host (not the first: that is the town site) and one of a site on a host
    of its own, each with the server's logs of its requests: {"shared": (site, result, store, logs), "own": ...}."""
    sites = fleet.sites()
    return {kind: (site, *_scan(fleet, site, tmp_path_factory)) for kind, site in (("shared", sites[1]),
                                                                                   ("own", sites[-1]))}


def _stored_pages(store, scan_id) -> set[str]:
    from sitewatch.store import PageRow
    with store.engine.connect() as c:
        return {r.url for r in c.execute(select(PageRow.c.url).where(PageRow.c.scan_id == scan_id))}


# ---- the fleet -----------------------------------------------------------------------------------------------------

def test_fleet_shape(fleet):
    sites = fleet.sites()
    assert len(sites) == 25 and len({s.name for s in sites}) == 25
    shared, own = sites[:20], sites[20:]
    assert {s.host for s in shared} == {fleet.city}
    assert len({s.start_url for s in shared}) == 20
    assert all(s.start_url.count("/") == 4 and s.start_url != f"http://{fleet.city}/" for s in shared)
    assert [s.host for s in own] == fleet.own_hosts and len(set(fleet.own_hosts)) == 5
    assert all(s.start_url == f"http://{s.host}/" for s in own)
    assert fleet.hosts == [fleet.city, *fleet.own_hosts, fleet.province]
    for s in sites:
        assert 100 <= len(s.pages) <= 130, (s.name, len(s.pages))
        assert all(p.startswith(s.start_url) for p in s.pages) and s.start_url in s.pages
    # the first sub-site is the town site itself, at the fleet's scale
    town = TownSite(f"http://{fleet.city}", f"http://{fleet.province}", fleet.refused, scale=DEFAULT_SCALE)
    first = fleet.models[shared[0].name]
    assert shared[0].start_url.endswith("/xqbsc/") and set(shared[0].pages) == town.expected_pages()
    assert first.answer("/xqbsc/") == town.answer("/xqbsc/")


@pytest.mark.parametrize("index", [1, -1])
def test_model_pages_are_what_a_visitor_reaches(fleet, index):
    site = fleet.sites()[index]
    assert reachable_pages(fleet.models[site.name]) == site.pages


def test_two_subsites_differ(fleet):
    a, b = (fleet.models[s.name] for s in fleet.sites()[1:3])
    rel = lambda m: {p[len(m.origin + m.prefix):] for p in m.expected_pages()}      # noqa: E731
    docs_a, docs_b = ({p for p in rel(m) if p.endswith(".html") and "/t20" in p} for m in (a, b))
    assert docs_a and docs_b and not docs_a & docs_b            # every article has its own date and id
    assert {d.title for d in a.all_docs()} != {d.title for d in b.all_docs()}
    assert a.columns["sqdt"].newest != b.columns["sqdt"].newest or \
        a.columns["zwgk/fdzdgknr/zcwj"].newest != b.columns["zwgk/fdzdgknr/zcwj"].newest
    home_a = a.answer(a.prefix)[2].decode().replace(a.prefix, "/").replace(a.name, "")
    home_b = b.answer(b.prefix)[2].decode().replace(b.prefix, "/").replace(b.name, "")
    assert home_a != home_b


def test_city_page_and_unknown_paths(fleet):
    with urllib.request.urlopen(f"http://{fleet.city}/", timeout=5) as r:
        body = r.read().decode()
    assert all(f"href='/{s.start_url.split('/')[3]}/'" in body for s in fleet.sites()[:20])
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://{fleet.city}/nosuchsite/", timeout=5)
    assert e.value.code == 404


# ---- scans of two of its sites -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["shared", "own"])
def test_scan_reads_exactly_the_sites_pages(scans, kind):
    site, result, store, logs = scans[kind]
    got = _stored_pages(store, result.scan_id)
    assert got == site.pages, (sorted(site.pages - got)[:10], sorted(got - site.pages)[:10])
    assert result.stats.pages == len(site.pages) and result.status == "completed"


@pytest.mark.parametrize("kind", ["shared", "own"])
def test_scan_stays_inside_its_prefix_as_the_server_saw_it(fleet, scans, kind):
    """The site's host got requests for the site's folder only, beyond robots.txt, the city page and the planted
    dead link to the old site (checked, not crawled)."""
    site, result, store, logs = scans[kind]
    model = fleet.models[site.name]
    paths = {r.path for r in logs[site.host]}
    outside = {p for p in paths if not p.startswith(model.prefix)}
    assert outside <= {"/robots.txt", "/", model.old_site}, sorted(outside)
    for host in fleet.own_hosts + [fleet.city]:
        if host != site.host:
            assert not logs[host], (host, logs[host][:3])


@pytest.mark.parametrize("kind", ["shared", "own"])
def test_findings_are_the_planted_ones(fleet, scans, kind):
    site, result, store, logs = scans[kind]
    model = fleet.models[site.name]
    broken = {f.url for f in result.findings if f.rule == "link.broken"}
    assert broken == set(model.planted_broken), (broken ^ set(model.planted_broken))
    assert {f.extra["column"] for f in result.findings if f.rule == "column.stale"} == set(STALE_COLUMNS)
    assert {f.extra["column"] for f in result.findings if f.rule == "column.blank"} == BLANK_COLUMNS


def test_findings_of_two_sites_differ(scans):
    def relative(kind):
        site, result, _, _ = scans[kind]
        return {(f.rule, f.url.replace(site.start_url, "~/"), f.message) for f in result.findings
                if f.url.startswith(site.start_url)}
    a, b = relative("shared"), relative("own")
    assert a and b and a != b
    assert {r for r, _, _ in a} == {r for r, _, _ in b}         # the same problems, planted on both


@pytest.mark.parametrize("kind", ["shared", "own"])
def test_server_log_counts_every_request_of_the_scan(fleet, scans, kind):
    """The scan's own count of requests per host (its politeness report) is what each server logged; the rest
    went to the port nobody listens on."""
    site, result, store, logs = scans[kind]
    by_host = {h["host"].split("://", 1)[1]: h["requests"] for h in result.stats.throttle}
    refused = fleet.refused.split("://", 1)[1]
    assert set(by_host) == {site.host, fleet.province, refused}
    for host in (site.host, fleet.province):
        assert by_host[host] == len(logs[host]), host
    assert result.stats.requests == sum(len(v) for v in logs.values()) + by_host[refused]
    records = logs[site.host]
    assert 1 <= max_in_flight(records) <= CONCURRENCY
    assert max_overlap(records) == max_in_flight(records)       # the handler's count agrees with the times
    assert all(r.mono <= r.end and r.status for r in records)
    assert max_in_window(records, 1e9) == len(records) >= len(site.pages)


# ---- the log helpers -------------------------------------------------------------------------------------------

def _log(*spans: tuple[float, float, int]) -> list[Request]:
    return [Request(1e9 + a, a, b, "GET", f"/p{i}", 200, n) for i, (a, b, n) in enumerate(spans)]


def test_max_in_window_counts_arrivals_in_a_half_open_window():
    inside = _log((0.0, 0.1, 1), (0.2, 0.3, 1), (0.4, 0.5, 1), (0.999, 1.0, 1), (5.0, 5.1, 1))
    assert max_in_window(inside, 1.0) == 4
    edge = _log((0.0, 0.1, 1), (0.2, 0.3, 1), (0.4, 0.5, 1), (1.0, 1.1, 1), (5.0, 5.1, 1))   # twin: 1.0 is out
    assert max_in_window(edge, 1.0) == 3
    assert max_in_window(edge, 1.0001) == 4 and max_in_window(edge, 0.1) == 1
    assert max_in_window(list(reversed(inside)), 1.0) == 4            # order of the records does not matter
    assert max_in_window([], 1.0) == 0
    steady = _log(*((k / 5, k / 5 + 0.01, 1) for k in range(50)))       # 5 a second, for 10 s
    assert max_in_window(steady, 1.0) == 5 and max_in_window(steady, 2.0) == 10


def test_max_in_flight_and_overlap():
    log = _log((0.0, 0.5, 1), (0.2, 0.6, 2), (0.4, 0.7, 3), (0.999, 1.1, 1))
    assert max_in_flight(log) == 3 and max_overlap(log) == 3
    touching = _log((0.0, 1.0, 1), (1.0, 2.0, 1), (2.0, 3.0, 1))          # each starts as the last ends
    assert max_in_flight(touching) == 1 and max_overlap(touching) == 1
    crossing = _log((0.0, 1.0, 1), (0.99, 2.0, 2))                          # twin: one overlaps the other
    assert max_in_flight(crossing) == 2 and max_overlap(crossing) == 2
    handed_over = _log((0.0, 1.0, 1), (0.9995, 2.0, 2))                    # next request within the grace
    assert max_overlap(handed_over, grace=0.002) == 1 and max_overlap(crossing, grace=0.002) == 2
    assert max_in_flight([]) == 0 and max_overlap([]) == 0


# ---- reset, change, the command line -------------------------------------------------------------------------------

def test_reset_log_and_change(tmp_path):
    with FleetServer(shared=2, own=1) as fleet:
        assert len(fleet.sites()) == 3 and len(fleet.hosts) == 3
        site = fleet.sites()[1]
        model = fleet.models[site.name]
        doc = model.columns["djgz/djdt"].docs[0]
        urllib.request.urlopen(site.start_url, timeout=5).read()
        fleet.reset_log()
        assert fleet.log(fleet.city) == []
        before = time.time()
        urllib.request.urlopen(site.start_url, timeout=5).read()
        (r,) = fleet.log(site.start_url)
        assert (r.method, r.path, r.status, r.in_flight) == ("GET", model.prefix, 200, 1)
        assert before <= r.t <= time.time() and r.mono <= r.end <= time.monotonic()
        assert fleet.requests(fleet.city) == 1 and fleet.max_in_window(fleet.city) == 1
        assert fleet.max_in_flight(fleet.city) == 1

        changed = fleet.change(site.name, [doc.path], seed=4)
        assert changed == [model.origin + doc.path]
        with urllib.request.urlopen(model.origin + doc.path, timeout=5) as resp:
            assert b"&#26412;" in resp.read()                   # the revision paragraph (本...)
        assert [x.path for x in fleet.log(fleet.city)] == [model.prefix, doc.path]
    assert [x.path for x in fleet.log(fleet.city)] == [model.prefix, doc.path]     # kept after the stop


def test_command_line_serves_the_fleet_and_writes_a_config(tmp_path):
    from sitewatch.config import load_site_configs

    tests = Path(__file__).resolve().parent
    config = tmp_path / "fleet.toml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(tests / "fleetsite.py"), "--serve", "--config", str(config)],
                            stdout=subprocess.PIPE, text=True, env=env)
    out: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [out.put(line.rstrip("\n")) for line in proc.stdout], daemon=True).start()
    try:
        lines = []
        while not (lines and lines[-1].startswith("config:")):
            try:
                lines.append(out.get(timeout=30))
            except queue.Empty:
                pytest.fail(f"no config line: {lines}")
        urls = [line.split("\t")[0] for line in lines if line.startswith("http://") and "\t" in line]
        assert len(urls) == 25 and lines[-1] == f"config: {config}"
        sites = load_site_configs(config)
        assert [s.start_urls[0] for s in sites] == urls and len({s.name for s in sites}) == 25
        assert all(s.as_of == TODAY for s in sites)
        with urllib.request.urlopen(urls[0], timeout=5) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(10)
