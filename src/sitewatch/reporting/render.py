"""Render the Jinja2 templates of the top-level ``reports/`` folder (autoescape on for every template, and every
printed value made inert: see ``sitewatch.safetext``)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

from sitewatch.reporting.chart import trend_charts, trend_svg
from sitewatch.reporting.layout import problem_groups
from sitewatch.resources import data_dir
from sitewatch.safetext import safe_text
from sitewatch.urls import display_url, display_urls_in, short_url

_UNSAFE = re.compile(r"[^\w\u4e00-\u9fff.-]+")
_LINKED = ("http://", "https://")


def _inert(value: Any) -> Any:
    """Every value a template prints: control and bidi characters from crawled pages shown as escapes, and every
    URL in it as people read it (``urls.display_url``); markup the code built (the charts, ``url_link``) is left as
    it is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return safe_text(display_urls_in(value), keep_lines=True)
    return value


def url_link(url: Any, limit: int = 64, site: Any = None) -> Markup:
    """A URL for a reader: shown decoded (IRI) and shortened to ``limit`` characters, linked to the exact URL
    (http and https only, and only when it has no control or bidi character, as the XLSX cells link it; anything
    else is plain text), the full decoded URL in its tooltip. With ``site`` (the
    site's start URL), a URL on the site's own host is shown from its path on (``/xqbsc/lxwm.html``)."""
    if not url:
        return Markup("—")
    url = str(url)
    shown = escape(short_url(url, limit, relative_to=str(site) if site else None))
    full = escape(display_url(url))
    if url.lower().startswith(_LINKED) and url.isprintable():
        return Markup(f'<a class="url" href="{escape(url)}" title="{full}">{shown}</a>')
    return Markup(f'<span class="url" title="{full}">{shown}</span>')


def css_string(text: Any) -> Markup:
    """``text`` as a quoted CSS string (for a print footer's ``content``): every character but letters, digits and
    spaces written as a CSS escape, so that nothing in it can end the string or the style sheet."""
    out = []
    for ch in safe_text(str(text)):
        out.append(ch if ch.isalnum() or ch == " " else f"\\{ord(ch):06x}")
    return Markup('"' + "".join(out) + '"')


@lru_cache(maxsize=4)
def environment(folder: str | None = None) -> Environment:
    """The reports' environment on ``folder`` (default: the bundled or installed ``reports/``), made once."""
    return new_environment(folder)


def new_environment(folder: str | None = None) -> Environment:
    """A new environment with the reports' settings: autoescape, every printed value made inert (``_inert``), the
    same globals and filters (the web console adds its own globals to one of these)."""
    env = Environment(loader=FileSystemLoader(folder or str(data_dir("reports"))), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True, finalize=_inert)
    env.globals["trend_svg"] = trend_svg
    env.globals["trend_charts"] = trend_charts
    env.globals["url_link"] = url_link
    env.globals["problem_groups"] = problem_groups
    env.filters["iri"] = display_url
    env.filters["css_string"] = css_string
    return env


def render_html(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def write_html(path: Path, template: str, **context: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:       # streamed: a huge report is never one string in memory
        fh.writelines(environment().get_template(template).generate(**context))
    tmp.replace(path)
    return path


def safe_name(text: str, limit: int = 60) -> str:
    """A file-name-safe form of a site name or URL (letters, digits, Chinese, dot, dash, underscore)."""
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    return _UNSAFE.sub("_", text).strip("._")[:limit] or "site"
