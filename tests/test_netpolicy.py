"""The network policy (no SSRF): internal, loopback and metadata addresses are not requested from a public site.

Every test that refuses an address also checks that nothing was sent: ``connects`` records every TCP connect this
process attempts and refuses (without sending anything) any that is not to a loopback address, so a policy that
failed to refuse would be seen here, and no packet could leave the machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket

import pytest
from conftest import scan_site
from loopback import Answer, LoopbackSite, page

from sitewatch.addresses import parse_allow, parse_ip
from sitewatch.config import SiteConfig, config_from_dict
from sitewatch.crawl.fetch import Fetcher
from sitewatch.crawl.netpolicy import NetPolicy, address_class, name_class
from sitewatch.crawl.politeness import Politeness
from sitewatch.errors import ConfigError
from sitewatch.probes import probe


@pytest.fixture
def connects(monkeypatch):
    """Every TCP connect attempted in this process: (host, port). Non-loopback ones are refused unsent."""
    seen: list[tuple[str, int]] = []
    real = socket.socket.connect

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            seen.append((address[0], address[1]))
            if not ipaddress.ip_address(address[0].split("%")[0]).is_loopback:
                raise ConnectionRefusedError(111, f"test guard: no packet to {address[0]}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    return seen


@pytest.fixture
def names(monkeypatch):
    """A resolver table for made-up names: {name: [address, ...]} (other names resolve as usual)."""
    table: dict[str, list[str]] = {}
    calls: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        h = host.decode() if isinstance(host, bytes) else host
        if h in table:
            calls.append(h)
            answer = table[h]
            addrs = answer.pop(0) if answer and isinstance(answer[0], list) else answer
            out = []
            for a in addrs:
                fam = socket.AF_INET6 if ":" in a else socket.AF_INET
                out.append((fam, socket.SOCK_STREAM, 6, "", (a, int(port or 0)) if fam == socket.AF_INET
                            else (a, int(port or 0), 0, 0)))
            return out
        return real(host, port, family, type, proto, flags)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    table["__calls__"] = calls          # type: ignore[assignment]
    return table


def fetch_all(urls, policy, **kw):
    async def go():
        f = Fetcher(Politeness(8, 0, obey_robots=False), timeout=3, retries=0, policy=policy, **kw)
        try:
            return [await f.fetch(u, obey_robots=False) for u in urls]
        finally:
            await f.aclose()
    return asyncio.run(go())


BLOCKED_FORMS = ["127.0.0.1", "localhost", "LOCALHOST.", "www.localhost", "0x7f000001", "2130706433", "0177.0.0.1",
                 "127.1", "0x7f.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[0:0:0:0:0:0:0:1]",
                 "0.0.0.0", "0", "[::]", "10.1.2.3", "172.16.5.4", "192.168.1.1", "[fd12::1]", "169.254.1.1",
                 "[fe80::1]", "100.64.0.1", "224.0.0.1", "169.254.169.254", "0xa9fea9fe", "[fd00:ec2::254]",
                 "100.100.100.200", "metadata.google.internal", "[2002:7f00:1::]", "[64:ff9b::a9fe:a9fe]"]


def test_hosts_in_every_spelling_are_classified():
    assert parse_ip("0x7f000001") == parse_ip("2130706433") == parse_ip("0177.0.0.1") == parse_ip("127.1") \
        == ipaddress.ip_address("127.0.0.1")
    assert address_class(parse_ip("[::ffff:127.0.0.1]")) == "loopback"
    assert address_class(parse_ip("0xa9fea9fe")) == "metadata"
    assert address_class(parse_ip("[fd00:ec2::254]")) == "metadata"
    assert address_class(parse_ip("100.64.3.3")) == "cgnat"
    assert address_class(parse_ip("[fe80::1%25eth0]".replace("%25", "%"))) == "link_local"
    assert address_class(parse_ip("10.0.0.1")) == address_class(parse_ip("[fc00::1]")) == "private"
    assert name_class("metadata.google.internal.") == "metadata" and name_class("a.localhost") == "loopback"
    for public in ("202.96.128.86", "[240e::1]", "114.114.114.114"):      # public addresses: not refused
        assert address_class(parse_ip(public)) is None, public
    assert parse_ip("www.gov.cn") is None and parse_ip("1.2.3.4.5") is None


def test_policy_of_a_site_on_loopback_allows_loopback_but_never_metadata():
    pol = NetPolicy.for_site(["http://127.0.0.1:8080/"])
    assert pol.check_host("127.0.0.9") is None and pol.check_host("[::1]") is None
    assert pol.check_host("169.254.169.254") and pol.check_host("10.0.0.1") and pol.check_host("metadata.goog")
    public = NetPolicy.for_site(["http://www.zs.gov.test/"])       # a reserved name: never resolves
    assert public.check_host("127.0.0.1") and public.check_host("localhost")
    allowed = NetPolicy.from_allow(["10.1.0.0/16", "intranet.example.gov.cn", "*.oa.example.gov.cn"])
    assert allowed.check_host("10.1.200.3") is None and allowed.check_host("10.2.0.1")
    assert allowed.check_resolved("intranet.example.gov.cn", parse_ip("10.9.9.9")) is None
    assert allowed.check_resolved("mail.oa.example.gov.cn", parse_ip("192.168.0.5")) is None
    assert allowed.check_resolved("evil.example.com", parse_ip("192.168.0.5"))
    with pytest.raises(ValueError):
        parse_allow(["http://10.0.0.0/8"])


def test_links_to_internal_addresses_in_any_form_are_refused_before_connecting(connects):
    """A public site's page (here the policy of a public site) links to loopback/internal/metadata hosts."""
    with LoopbackSite({"/": Answer(200, page("ok"))}) as site:
        port = site.base.rsplit(":", 1)[1]
        urls = [f"http://{h}:{port}/" for h in BLOCKED_FORMS]
        results = fetch_all(urls, NetPolicy())
        assert not site.requests
    assert [(r.url, r.error) for r in results] == [(u, "blocked_address") for u in urls]
    assert all("nothing was sent" in r.detail or "network policy" in r.detail for r in results)
    assert connects == []


def test_redirects_to_internal_addresses_are_refused(connects):
    """The site itself is allowed (by address), a redirect from it to another internal address is not."""
    with LoopbackSite({"/": Answer(200, page("ok"))}) as other:
        oport = other.base.rsplit(":", 1)[1]
        targets = [f"http://127.0.0.2:{oport}/", f"http://localhost:{oport}/", "http://169.254.169.254/latest/",
                   f"http://0x7f000002:{oport}/", "http://10.0.0.8/"]
        routes = {f"/r{i}": Answer(302, "", headers={"Location": t}) for i, t in enumerate(targets)}
        with LoopbackSite(routes) as site:
            results = fetch_all([site.url(f"/r{i}") for i in range(len(targets))],
                                NetPolicy.from_allow(["127.0.0.1"]))
            assert all(n == 1 for n in site.requests.values()) and len(site.requests) == len(targets)
        assert not other.requests
    assert [r.error for r in results] == ["blocked_address"] * len(targets)
    assert [r.chain[0][1] for r in results] == [302] * len(targets)
    assert {h for h, _ in connects} == {"127.0.0.1"}


def test_a_name_resolving_to_loopback_is_refused_for_a_public_site(connects, names):
    with LoopbackSite({"/": Answer(200, page("ok"))}) as site:
        port = site.base.rsplit(":", 1)[1]
        names["intranet.example.com"] = ["127.0.0.1"]
        names["mixed.example.com"] = ["::1", "10.0.0.7"]
        (a, b) = fetch_all([f"http://intranet.example.com:{port}/", f"http://mixed.example.com:{port}/"], NetPolicy())
        assert not site.requests
    assert a.error == b.error == "blocked_address"
    assert "127.0.0.1" in a.detail and "10.0.0.7" in b.detail
    assert connects == []


def test_only_the_checked_addresses_are_connected_to(connects, names):
    """DNS rebinding: the name is resolved once; the connection goes to the address that was checked, never to
    what a second lookup would answer, and refused addresses of a mixed answer are never tried."""
    with LoopbackSite({"/": Answer(200, page("ok"))}) as site:
        port = int(site.base.rsplit(":", 1)[1])
        names["rebind.example.com"] = [["10.0.0.9", "127.0.0.1"], ["127.0.0.2"], ["127.0.0.2"]]
        (r,) = fetch_all([f"http://rebind.example.com:{port}/"], NetPolicy.from_allow(["127.0.0.1"]))
        assert r.error is None and r.status == 200
        assert sum(site.requests.values()) == 1
    assert names["__calls__"] == ["rebind.example.com"]
    assert connects == [("127.0.0.1", port)]


def test_a_scan_of_a_loopback_site_reports_metadata_and_private_links_as_blocked_not_broken(db, connects):
    links = ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://10.0.0.1/admin",
             "http://metadata.google.internal/computeMetadata/v1/", "http://100.100.100.200/latest/meta-data/"]
    body = "".join(f'<a href="{u}">内部链接{i}</a>' for i, u in enumerate(links))
    with LoopbackSite({"/": Answer(200, page("首页", body + '<a href="/a.html">文章</a>')),
                       "/a.html": Answer(200, page("文章", "<p>" + "正文" * 50 + "</p>"))}) as site:
        result, store = scan_site(site.url("/"), db)
        assert ("GET", "/a.html") in site.requests           # the loopback site itself is crawled
    from sqlalchemy import text
    with store.engine.connect() as c:
        rows = dict(c.execute(text("select url, reason from targets where verdict = 'skipped'")).all())
    assert {u: rows.get(u) for u in links} == {u: "blocked_address" for u in links}
    assert not [f for f in result.findings if f.rule == "link.broken"]
    cut = result.stats.coverage["blocked"]
    assert cut["count"] == len(links)
    assert {h for h, _ in connects} <= {"127.0.0.1"}


def test_config_allow_opens_named_networks_only(connects):
    with LoopbackSite({"/": Answer(200, page("ok"))}) as site:
        port = site.base.rsplit(":", 1)[1]
        ok, refused = fetch_all([f"http://127.0.0.1:{port}/", f"http://127.0.0.3:{port}/"],
                                NetPolicy.for_site(["http://www.zs.gov.test/"], ["127.0.0.1/32"]))
    assert ok.status == 200 and refused.error == "blocked_address"


def test_network_config_is_validated(tmp_path):
    cfg = config_from_dict({"site": {"start_url": "http://a.gov.test/"},
                            "network": {"proxy": "socks5://127.0.0.1:1080", "allow": ["10.1.0.0/16", "oa.gov.test"]}},
                           "t.toml")
    assert cfg.proxy == "socks5://127.0.0.1:1080" and cfg.network_allow == ["10.1.0.0/16", "oa.gov.test"]
    for bad in ({"proxy": "ftp://x"}, {"allow": ["http://10.0.0.0/8"]}, {"allow": "10.0.0.0/8"},
                {"ca_bundle": str(tmp_path / "missing.pem")}, {"proxi": "http://x:1"}):
        with pytest.raises(ConfigError):
            config_from_dict({"site": {"start_url": "http://a.gov.test/"}, "network": bad}, "t.toml")


def test_probes_obey_the_policy(connects):
    assert probe("http://169.254.169.254/latest/", 2).error.startswith("blocked_address")
    with LoopbackSite({"/": Answer(302, "", headers={"Location": "http://10.20.30.40/"})}) as site:
        r = probe(site.url("/"), 2)                   # a site on loopback: its redirect to 10.x is still refused
    assert not r.ok and r.error.startswith("blocked_address")
    assert {h for h, _ in connects} == {"127.0.0.1"}


def test_probes_connect_only_to_the_checked_address(connects, names):
    """DNS rebinding against the availability probe: the name answers a public address to the first lookup and
    127.0.0.1 to any later one. The probe resolves once, checks that answer and connects to it (here refused by
    the guard); it never looks the name up again, so the loopback server is never reached."""
    with LoopbackSite({"/": Answer(200, page("ok"))}) as site:
        port = int(site.base.rsplit(":", 1)[1])
        names["rebind.example.com"] = [["203.0.113.7"], ["127.0.0.1"], ["127.0.0.1"]]
        r = probe(f"http://rebind.example.com:{port}/", 2, policy=NetPolicy())
        assert not site.requests
    assert not r.ok and r.error.startswith(("refused", "connect")), r.error
    assert names["__calls__"] == ["rebind.example.com"]
    assert connects == [("203.0.113.7", port)]
    with LoopbackSite({"/": Answer(200, page("ok"))}) as site:       # and a name resolving to loopback at once
        port = int(site.base.rsplit(":", 1)[1])
        names["inside.example.com"] = ["127.0.0.1"]
        r = probe(f"http://inside.example.com:{port}/", 2, policy=NetPolicy())
        assert not site.requests
    assert r.error.startswith("blocked_address") and "127.0.0.1" in r.error


def test_lookback_does_not_recheck_internal_addresses_of_a_public_site(connects):
    import datetime as dt

    from sitewatch.lookback import recheck
    from sitewatch.models import DEDUCT, Finding

    with LoopbackSite({"/x.html": Answer(404, "gone")}) as site:
        f = Finding("link.broken", DEDUCT, site.url("/x.html"), "链接无法访问", found_on=["http://www.zs.gov.test/"])
        (r,) = recheck([f], dt.date(2026, 12, 5), 2, start_urls=["http://www.zs.gov.test/"])
        assert not site.requests and connects == []
        (r2,) = recheck([f], dt.date(2026, 12, 5), 2, start_urls=["http://www.zs.gov.test/"],
                        cfg=SiteConfig(network_allow=["127.0.0.0/8"]))       # the site's config allows loopback
        assert site.hits("/x.html") == 1
    assert r.open is None and "安全策略" in r.note
    assert r2.open is True


def test_blocked_cut_is_documented():
    from pathlib import Path

    from sitewatch.crawl.coverage import CUTS
    schema = (Path(__file__).resolve().parents[1] / "docs" / "findings-schema.md").read_text(encoding="utf-8")
    assert "blocked" in CUTS and "| `blocked` |" in schema
    assert json.dumps(CUTS["blocked"], ensure_ascii=False)
