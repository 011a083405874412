"""Render the Jinja2 templates of the top-level ``reports/`` folder (autoescape on for every template, and every
printed value made inert: see ``sitewatch.safetext``)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from sitewatch.reporting.chart import trend_svg
from sitewatch.resources import data_dir
from sitewatch.safetext import safe_text

_UNSAFE = re.compile(r"[^\w\u4e00-\u9fff.-]+")


def _inert(value: Any) -> Any:
    """Every value a template prints: control and bidi characters from crawled pages shown as escapes (markup the
    code built, such as the trend chart, is left as it is)."""
    return safe_text(value, keep_lines=True) if isinstance(value, str) and not isinstance(value, Markup) else value


@lru_cache(maxsize=4)
def environment(folder: str | None = None) -> Environment:
    env = Environment(loader=FileSystemLoader(folder or str(data_dir("reports"))), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True, finalize=_inert)
    env.globals["trend_svg"] = trend_svg
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
