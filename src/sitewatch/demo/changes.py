"""Change a chosen part of the demo portal between two scans, with the changed paths as ground truth.

`change_pages(portal, changed, seed=...)` returns a copy of the portal in which the chosen HTML pages were edited
after the build: each gets one added paragraph (numeric character references, so every page encoding holds it;
no link and no date, so no finding depends on it) and a modification time after everything else on the site, hence
a new `Last-Modified` and `ETag`. Every other route is the same object with the same bytes. `Portal.changed` lists
the changed paths, sorted, so that a test can check that a rescan finds every one of them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import random
from collections.abc import Collection

from sitewatch.demo.site import Portal, build_time

NOTE = "本页内容已修订，修订编号："          # "this page was revised, revision number:"
EDIT_DELAY = dt.timedelta(hours=1)            # a change lands this long after the build


def changeable(portal: Portal) -> list[str]:
    """Paths of the static HTML pages (with validators) that `change_pages` may edit, sorted."""
    return sorted(p for p, r in portal.routes.items()
                  if r.last_modified is not None and r.status == 200 and r.content_type.startswith("text/html"))


def choose(portal: Portal, changed: float | Collection[str], seed: int = 0) -> list[str]:
    """The sorted paths to change: a fraction of the changeable pages drawn with `seed`, or the paths given."""
    pool = changeable(portal)
    if isinstance(changed, (int, float)):
        if not 0 <= changed <= 1:
            raise ValueError(f"changed fraction must be between 0 and 1, not {changed}")
        k = round(changed * len(pool))
        if changed > 0:
            k = max(k, 1)
        return sorted(random.Random(f"changes/{seed}").sample(pool, k))
    paths = sorted(set(changed))
    unknown = sorted(set(paths) - set(pool))
    if unknown:
        raise ValueError(f"not a changeable page of the portal: {', '.join(unknown[:5])}")
    return paths


def revised_body(body: bytes, path: str, seed: int) -> bytes:
    """`body` with one paragraph added before the footer (else before </body>, else at the end)."""
    code = hashlib.sha256(f"{seed}/{path}".encode()).hexdigest()[:8]
    note = "".join(f"&#{ord(ch)};" for ch in NOTE) + code
    para = f'<p class="revision">{note}</p>\n'.encode("ascii")
    for marker in (b'<div class="footer">', b"</body>"):
        at = body.rfind(marker)
        if at >= 0:
            return body[:at] + para + body[at:]
    return body + para


def change_pages(portal: Portal, changed: float | Collection[str], *, seed: int = 0) -> Portal:
    """A copy of `portal` with the chosen pages changed (see the module docstring); `.changed` lists them."""
    paths = choose(portal, changed, seed)
    routes = dict(portal.routes)
    stamps = [r.last_modified for r in routes.values() if r.last_modified is not None]
    edited = max([build_time(portal.snapshot), *stamps]) + EDIT_DELAY
    for path in paths:
        old = routes[path]
        routes[path] = dataclasses.replace(old, body=revised_body(old.body, path, seed), headers=dict(old.headers),
                                           fail_headers=dict(old.fail_headers), last_modified=edited)
    return dataclasses.replace(portal, routes=routes, dynamic=list(portal.dynamic),
                               changed=sorted({*portal.changed, *paths}))

