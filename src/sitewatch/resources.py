"""Locate the data folders shipped with sitewatch: rule packs (checks/) and report templates (reports/)."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder `checks` or `reports`, installed (wheel) or in a source checkout."""
    installed = _PKG / "_data" / name
    if installed.is_dir():
        return installed
    source = _PKG.parent.parent / name
    if source.is_dir():
        return source
    raise FileNotFoundError(f"sitewatch data folder {name!r} not found (looked in {installed} and {source})")
