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
from collections.abc import Collection

from sitewatch.demo.changes import change_pages
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
from sitewatch.demo.site import Portal, Route, build_time


def build_portal(*, as_of: dt.date = dt.date(2026, 11, 26), month_variant: int = 0, scale: int = 1,
                 changed: float | Collection[str] | None = None, seed: int = 0) -> Portal:
    """Build the demo portal as it looks `month_variant` months before `as_of` (0 = that month).

    `changed` (a fraction of the changeable pages, drawn with `seed`, or a collection of their paths) builds the
    portal with those pages edited after the build (`demo.changes.change_pages`); `Portal.changed` lists them.
    """
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

    stamp_static(pages.routes, build_time(content.snapshot))

    expected = build_manifest(pages, defects, messages)
    generated = [*trap_routes(pages.chrome), gk_api_route(content)]
    external = ext_routes()
    stamp_static(external, build_time(content.snapshot))
    portal = Portal(pages.routes, expected, external, content.as_of, content.snapshot, content.variant,
                    content.scale, generated)
    if changed is None:
        return portal
    return change_pages(portal, changed, seed=seed)


def stamp_static(routes: dict[str, Route], built: dt.datetime) -> None:
    """Give every static answer a modification time (the build time unless its content dates it).

    Static means what nginx would serve from a file: 200 at once, every time. Redirects, errors, the slow page
    and answers that fail first keep their behaviour and get no validators; generated routes (traps, the
    gkmlpt JSON API) are not in `routes` and get none either.
    """
    for route in routes.values():
        if route.status == 200 and not route.delay and not route.fail_first_n and not route.location:
            if route.last_modified is None:
                route.last_modified = built
        else:
            route.last_modified = None
