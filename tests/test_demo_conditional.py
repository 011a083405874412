"""The test servers answer conditional requests like a static server (nginx), and the demo portal can change."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from loopback import Answer, LoopbackSite, page

from sitewatch.demo import build_portal, serve_portal
from sitewatch.demo.changes import change_pages, changeable
from sitewatch.demo.conditional import http_date, nginx_etag, none_match, not_modified, parse_http_date
from sitewatch.demo.site import PREFIX, Portal

ARTICLE = f"{PREFIX}gzdt/"        # a column whose articles carry content dates
HOME = PREFIX + "index.html"


@pytest.fixture(scope="module")
def portal() -> Portal:
    return build_portal()


def _article(portal: Portal) -> str:
    return next(p for p in changeable(portal) if p.startswith(ARTICLE) and "/t20" in p)


def _get(url: str, **headers: str) -> httpx.Response:
    return httpx.get(url, headers=headers, timeout=10)


# -- the pure functions --------------------------------------------------------------------------------------


def test_validator_formats() -> None:
    moment = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert http_date(moment) == "Thu, 26 Nov 2026 07:00:00 GMT"
    assert parse_http_date("Thu, 26 Nov 2026 07:00:00 GMT") == moment
    assert parse_http_date("yesterday") is None
    assert nginx_etag(moment, 1234) == f'"{int(moment.timestamp()):x}-4d2"'


@pytest.mark.parametrize(("header", "match"), [
    ('"a-1"', True), ('W/"a-1"', True), ('"b-2", "a-1"', True), ('"b-2",W/"a-1"', True), ("*", True),
    ('"b-2"', False), ('"a-1', False), ("a-1", False), ("", False), ('"A-1"', False),
])
def test_if_none_match_weak_comparison(header: str, match: bool) -> None:
    assert none_match(header, '"a-1"') is match
    assert none_match(header, 'W/"a-1"') is match


def test_if_none_match_wins_over_if_modified_since() -> None:
    mtime = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    later, earlier = http_date(mtime + dt.timedelta(days=1)), http_date(mtime - dt.timedelta(seconds=1))
    assert not_modified({"If-Modified-Since": later}, '"x"', mtime)
    assert not_modified({"If-Modified-Since": http_date(mtime)}, '"x"', mtime)
    assert not not_modified({"If-Modified-Since": earlier}, '"x"', mtime)
    assert not not_modified({"If-Modified-Since": "not a date"}, '"x"', mtime)
    assert not not_modified({"If-None-Match": '"y"', "If-Modified-Since": later}, '"x"', mtime)
    assert not not_modified({}, '"x"', mtime)


# -- the demo portal -------------------------------------------------------------------------------------------


def test_static_answers_carry_stable_validators(portal: Portal) -> None:
    again = build_portal()
    path = _article(portal)
    with serve_portal(portal) as one, serve_portal(again) as two:
        for p in (path, HOME, PREFIX + "images/logo.png"):
            a, b = _get(one.base_url + p), _get(two.base_url + p)
            assert a.status_code == b.status_code == 200
            assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', a.headers["ETag"])
            assert a.headers["ETag"] == b.headers["ETag"]
            assert a.headers["Last-Modified"] == b.headers["Last-Modified"]
            assert a.headers["ETag"].endswith(f'-{len(a.content):x}"')
            mtime = parse_http_date(a.headers["Last-Modified"])
            assert mtime is not None and a.headers["ETag"].startswith(f'"{int(mtime.timestamp()):x}-')
        # an article is dated by its content, the homepage by the site's build (late on the snapshot day)
        art, home = (parse_http_date(_get(one.base_url + p).headers["Last-Modified"]) for p in (path, HOME))
        assert art is not None and home is not None and art < home
        assert home.astimezone(dt.timezone(dt.timedelta(hours=8))).date() == portal.snapshot
        # HEAD carries the same validators
        assert httpx.head(one.base_url + path).headers["ETag"] == _get(one.base_url + path).headers["ETag"]


def test_dynamic_and_error_answers_have_no_validators(portal: Portal) -> None:
    with serve_portal(portal) as srv:
        missing = _get(srv.base_url + PREFIX + "no/such/page.html")
        assert missing.status_code == 404 and "ETag" not in missing.headers
        for path, route in portal.routes.items():
            if route.status != 200 or route.delay or route.fail_first_n:
                assert route.last_modified is None, path
        redirect = next(p for p, r in portal.routes.items() if r.location and 300 <= r.status < 400)
        answer = httpx.get(srv.base_url + redirect, follow_redirects=False, headers={"If-None-Match": "*"})
        assert answer.status_code == portal.routes[redirect].status and "ETag" not in answer.headers


@pytest.mark.parametrize("how", ["strong", "weak", "list", "star", "since", "since-later"])
def test_304_on_a_matching_validator(portal: Portal, how: str) -> None:
    path = _article(portal)
    with serve_portal(portal) as srv:
        first = _get(srv.base_url + path)
        etag, lm = first.headers["ETag"], first.headers["Last-Modified"]
        later = parse_http_date(lm)
        assert later is not None
        headers = {"strong": {"If-None-Match": etag}, "weak": {"If-None-Match": "W/" + etag},
                   "list": {"If-None-Match": f'"0-0", {etag}'}, "star": {"If-None-Match": "*"},
                   "since": {"If-Modified-Since": lm},
                   "since-later": {"If-Modified-Since": http_date(later + dt.timedelta(days=3))}}[how]
        again = _get(srv.base_url + path, **headers)
        assert again.status_code == 304
        assert again.content == b"" and "Content-Length" not in again.headers
        assert again.headers["ETag"] == etag and again.headers["Last-Modified"] == lm
        assert httpx.head(srv.base_url + path, headers=headers).status_code == 304


def test_200_when_the_validator_does_not_match(portal: Portal) -> None:
    path = _article(portal)
    with serve_portal(portal) as srv:
        first = _get(srv.base_url + path)
        lm = parse_http_date(first.headers["Last-Modified"])
        assert lm is not None
        for headers in ({"If-None-Match": '"0-0"'}, {"If-Modified-Since": http_date(lm - dt.timedelta(seconds=1))},
                        {"If-None-Match": '"0-0"', "If-Modified-Since": first.headers["Last-Modified"]}):
            again = _get(srv.base_url + path, **headers)
            assert again.status_code == 200 and again.content == first.content


def test_a_changed_page_answers_200_to_its_old_validators(portal: Portal) -> None:
    path = _article(portal)
    changed = change_pages(portal, [path], seed=1)
    with serve_portal(portal) as old, serve_portal(changed) as new:
        before = _get(old.base_url + path)
        for headers in ({"If-None-Match": before.headers["ETag"]},
                        {"If-Modified-Since": before.headers["Last-Modified"]}):
            after = _get(new.base_url + path, **headers)
            assert after.status_code == 200 and after.content != before.content
            assert after.headers["ETag"] != before.headers["ETag"]
            assert after.headers["Last-Modified"] != before.headers["Last-Modified"]
        # an unchanged page still matches the validators of the first build
        home = _get(old.base_url + HOME)
        assert _get(new.base_url + HOME, **{"If-None-Match": home.headers["ETag"]}).status_code == 304


def test_a_server_that_ignores_validators(portal: Portal) -> None:
    path = _article(portal)
    with serve_portal(portal) as srv:
        etag = _get(srv.base_url + path).headers["ETag"]
    with serve_portal(portal, conditional=False) as srv:
        answer = _get(srv.base_url + path, **{"If-None-Match": etag})
        assert answer.status_code == 200 and answer.headers["ETag"] == etag and answer.content
    with serve_portal(portal, validators=False) as srv:
        answer = _get(srv.base_url + path, **{"If-None-Match": etag})
        assert answer.status_code == 200 and "ETag" not in answer.headers and "Last-Modified" not in answer.headers


def test_a_server_that_answers_304_wrongly_for_a_changed_page(portal: Portal) -> None:
    path = _article(portal)
    changed = change_pages(portal, [path], seed=1)
    with serve_portal(portal) as old:
        etag = _get(old.base_url + path).headers["ETag"]
    with serve_portal(changed, wrong_304=changed.changed) as bad:
        wrong = _get(bad.base_url + path, **{"If-None-Match": etag})
        assert wrong.status_code == 304 and wrong.content == b""
        # only a full request shows the new body
        full = _get(bad.base_url + path)
        assert full.status_code == 200 and full.headers["ETag"] != etag
        # pages not listed keep answering correctly
        other = _get(bad.base_url + HOME, **{"If-None-Match": '"0-0"'})
        assert other.status_code == 200
    with serve_portal(changed, wrong_304=True) as bad:
        assert _get(bad.base_url + HOME, **{"If-None-Match": '"0-0"'}).status_code == 304


# -- changing part of the site ---------------------------------------------------------------------------------


def test_the_change_planter_changes_exactly_the_planted_pages(portal: Portal) -> None:
    changed = build_portal(changed=0.05, seed=7)
    pool = changeable(portal)
    assert changed.changed == sorted(changed.changed) and len(changed.changed) == round(0.05 * len(pool))
    assert set(changed.changed) <= set(pool)
    assert changed.changed == build_portal(changed=0.05, seed=7).changed        # the seed decides
    assert changed.changed != build_portal(changed=0.05, seed=8).changed
    assert changed.routes.keys() == portal.routes.keys()
    differ = {p for p in portal.routes if portal.routes[p].body != changed.routes[p].body}
    assert differ == set(changed.changed)
    newer = {p for p in portal.routes if portal.routes[p].last_modified != changed.routes[p].last_modified}
    assert newer == set(changed.changed)
    latest = max(r.last_modified for r in portal.routes.values() if r.last_modified)
    for p in changed.changed:
        old, new = portal.routes[p], changed.routes[p]
        assert new.last_modified is not None and new.last_modified > latest
        assert new.body.count(b'<p class="revision">') == 1 and len(new.body) > len(old.body)
    assert changed.expected == portal.expected
    assert portal.changed == []


def test_the_change_planter_over_http(portal: Portal) -> None:
    changed = change_pages(portal, 0.05, seed=3)
    with serve_portal(portal) as old, serve_portal(changed) as new, httpx.Client(timeout=10) as client:
        tags = {p: client.get(old.base_url + p).headers["ETag"] for p in changeable(portal)}
        found = [p for p, etag in tags.items()
                 if client.get(new.base_url + p, headers={"If-None-Match": etag}).status_code == 200]
    assert sorted(found) == changed.changed


def test_the_change_planter_takes_paths_and_checks_them(portal: Portal) -> None:
    path = _article(portal)
    assert change_pages(portal, [path]).changed == [path]
    assert change_pages(portal, 0.0).changed == []
    twice = change_pages(change_pages(portal, [path]), [HOME])
    assert twice.changed == sorted([path, HOME])
    with pytest.raises(ValueError):
        change_pages(portal, [PREFIX + "no/such/page.html"])
    with pytest.raises(ValueError):
        change_pages(portal, 1.5)


def test_a_changed_gbk_page_stays_decodable(portal: Portal) -> None:
    gbk = next(p for p in changeable(portal) if "gbk" in portal.routes[p].content_type)
    body = change_pages(portal, [gbk]).routes[gbk].body
    assert "本页内容已修订".encode("ascii", "xmlcharrefreplace") in body
    body.decode("gbk")


# -- the loopback server ---------------------------------------------------------------------------------------


def test_loopback_default_is_unchanged() -> None:
    with LoopbackSite({"/": Answer(body=page("home"))}) as site:
        answer = _get(site.url("/"), **{"If-None-Match": "*"})
        assert answer.status_code == 200 and "ETag" not in answer.headers and "Last-Modified" not in answer.headers


def test_loopback_conditional() -> None:
    mtime = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    routes = {"/": Answer(body=page("home")), "/a": Answer(body="a", last_modified=mtime),
              "/w": Answer(body="w", etag='W/"v1"'), "/gone": Answer(404, "no")}
    with LoopbackSite(routes, conditional=True) as site:
        home = _get(site.url("/"))
        assert home.headers["ETag"].endswith(f'-{len(home.content):x}"')
        assert _get(site.url("/"), **{"If-None-Match": home.headers["ETag"]}).status_code == 304
        a = _get(site.url("/a"))
        assert a.headers["Last-Modified"] == http_date(mtime)
        assert _get(site.url("/a"), **{"If-Modified-Since": http_date(mtime)}).status_code == 304
        assert _get(site.url("/a"), **{"If-Modified-Since": http_date(mtime - dt.timedelta(1))}).status_code == 200
        assert _get(site.url("/w")).headers["ETag"] == 'W/"v1"'
        assert _get(site.url("/w"), **{"If-None-Match": '"v1"'}).status_code == 304
        assert _get(site.url("/w"), **{"If-None-Match": '"v2"'}).status_code == 200
        assert _get(site.url("/gone"), **{"If-None-Match": "*"}).status_code == 404


def test_loopback_ignoring_and_wrong_304() -> None:
    routes = {"/": Answer(body="x", etag='"v1"')}
    with LoopbackSite(routes) as site:            # sends its validator, ignores it in requests
        answer = _get(site.url("/"), **{"If-None-Match": '"v1"'})
        assert answer.status_code == 200 and answer.headers["ETag"] == '"v1"'
    with LoopbackSite(routes, wrong_304=True) as site:
        assert _get(site.url("/"), **{"If-None-Match": '"v0"'}).status_code == 304
        assert _get(site.url("/")).status_code == 200
