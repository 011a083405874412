"""List engines: one small adapter per platform behind the ``ListEngine`` interface.

``parse_listing`` tries the engines whose ``detect`` matches, most specific first, the generic
engine last; the first one that reads a listing wins.
"""

from __future__ import annotations

from sitewatch.listengines._base import ListEngine
from sitewatch.listengines._rows import HtmlElement
from sitewatch.listengines.fujian import FujianEngine
from sitewatch.listengines.generic import GenericEngine
from sitewatch.listengines.gkmlpt import GkmlptEngine
from sitewatch.listengines.hanweb import HanwebEngine
from sitewatch.listengines.trs import TrsEngine
from sitewatch.models import Listing

__all__ = ["ENGINES", "ListEngine", "engine_by_name", "parse_listing"]

ENGINES: tuple[ListEngine, ...] = (GkmlptEngine(), HanwebEngine(), FujianEngine(), TrsEngine(), GenericEngine())


def engine_by_name(name: str) -> ListEngine:
    """The registered engine called ``name``; ValueError for an unknown name."""
    for engine in ENGINES:
        if engine.name == name:
            return engine
    raise ValueError(f"unknown list engine {name!r}; known: {', '.join(e.name for e in ENGINES)}")


def parse_listing(url: str, html: str, *, engine: str | None = None, doc: HtmlElement | None = None) -> Listing | None:
    """The listing on a page, by the named engine or the first detected engine that reads one. ``doc``, the
    page's tree as the crawler parsed it, is read, never changed."""
    if engine is not None:
        return engine_by_name(engine).parse(url, html, doc)
    for candidate in ENGINES:
        if candidate.detect(url, html):
            listing = candidate.parse(url, html, doc)
            if listing is not None:
                return listing
    return None
