"""URL resolution: the memoised joins give exactly what ``urllib.parse`` gives."""

from __future__ import annotations

import itertools
from urllib.parse import urljoin

import pytest

from sitewatch.urls import _normalize, join, normalize

BASES = ["http://h/a/b/c.html", "https://h/a/", "http://h", "https://h", "http://h/a/b.html?x=1",
         "http://h/a/b;p/c.html", "http://h:8/x/y#f", "https://h/a/b/", "http://h/a/..//b/c"]
HREFS = ["x.html", "../y/z.html", "/root/p", "//o.com/x", "http://o.com/a/../b", "https://h/a?", "http://h/a?",
         "?q=1", "#f", "", " x", "./", "../../../../a", "http:rel", "mailto:x@y", "a b/c", "http://[::1]/x",
         "HTTP://Up/X", "/", "//", "///x", "\\x\\y", ";p", "  /x", "政务公开/index.html"]


def test_join_and_normalize_agree_with_their_uncached_forms_for_every_base():
    for _ in range(2):      # the second round answers from the memo
        for base, href in itertools.product(BASES, HREFS):
            assert join(base, href) == urljoin(base, href), (base, href)
            assert normalize(href, base) == _normalize(href, base), (base, href)


@pytest.mark.parametrize("raw,expected", [
    ("http://h/a/b/..", "http://h/a/"),               # was /a: a browser keeps the folder's slash
    ("http://h/a//b.html", "http://h/a//b.html"),     # was /a/b.html: empty segments are kept
    ("http://h/a//b/", "http://h/a//b/"),
    ("http://h/a/./b", "http://h/a/b"),
    ("http://h/a/.", "http://h/a/"),
    ("http://h/../a", "http://h/a"),
    ("http://h/a/b/../../..", "http://h/"),
    ("http://h/a/%2e%2e/b", "http://h/b"),            # %2e is a dot to a browser
    ("http://h/a/b/../c?x=1", "http://h/a/c?x=1"),
])
def test_dot_segments_resolve_as_a_browser_does(raw, expected):
    assert normalize(raw) == expected
