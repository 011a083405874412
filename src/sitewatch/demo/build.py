"""`build_portal()`: the deterministic simulated 镇街 portal (中山市西区办事处), its planted defects and its manifest.

`build_portal()` returns every response the demo server gives: static routes keyed by path (plus query where
needed), a few generated routes for crawler traps, the routes of a second "external" host, and `expected`, the
manifest of what a correct scan must report. Nothing depends on the wall clock: all dates derive from `as_of`.

The steps, one module each:

    content.py    the dated articles of every column (site.py: the structure they live in)
    defects.py    plants in those articles: column quirks, links to planted targets, page-check plants
    pages.py      the site's pages rendered into routes; platforms.py: the gkmlpt catalogue and Hanweb column
    defects.py    the planted routes: broken targets, redirects, traps, behaviours, message board, 办事指南
    manifest.py   the `expected` manifest, from the pages as written and the planted defects

Placeholders in bodies, headers and the manifest: `{ext}` is the base URL of the external host, `{refused}` the
base URL of a loopback port nobody listens on. The server fills them in when it starts.
"""

from __future__ import annotations

import datetime as dt

from sitewatch.demo.content import SiteContent
from sitewatch.demo.defects import (
    behaviour_routes,
    defect_route,
    ext_routes,
    guide_pages,
    message_board,
    outside_pages,
    plant_in_articles,
    plant_pages,
    planted_defects,
    trap_routes,
)
from sitewatch.demo.manifest import build_manifest
from sitewatch.demo.pages import PageWriter
from sitewatch.demo.platforms import gk_api_route, gkmlpt_pages, hanweb_pages
from sitewatch.demo.site import Portal


def build_portal(*, as_of: dt.date = dt.date(2026, 11, 26), month_variant: int = 0, scale: int = 1) -> Portal:
    """Build the demo portal as it looks `month_variant` months before `as_of` (0 = that month)."""
    content = SiteContent(as_of, month_variant, scale)
    content.generate()
    defects = planted_defects(content.year)
    plant_in_articles(content)

    pages = PageWriter(content, reserved={d.target for d in defects})
    pages.column_pages()
    pages.article_pages()
    pages.home_page()
    pages.site_pages()
    plant_pages(pages, defects)
    gkmlpt_pages(pages)
    hanweb_pages(pages)
    messages = message_board(pages)
    guide_pages(pages)
    outside_pages(pages)
    behaviour_routes(pages)
    for d in defects:
        defect_route(pages, d)

    expected = build_manifest(pages, defects, messages)
    generated = [*trap_routes(pages.chrome), gk_api_route(content)]
    return Portal(pages.routes, expected, ext_routes(), content.as_of, content.snapshot, content.variant,
                  content.scale, generated)
