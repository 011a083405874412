"""Output paths checked before any work starts: a scan never crawls for an hour to fail writing its JSON."""

from __future__ import annotations

import os
from pathlib import Path

from sitewatch.errors import UsageError


def output_file(path: str | Path, flag: str) -> Path:
    """``path`` as a file to write: its folder exists and is writable, and it is not itself a folder."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise UsageError(f"{flag} {path}: is a folder, expected a file name")
    if not folder.is_dir():
        raise UsageError(f"{flag} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{flag} {path}: folder {folder} is not writable")
    return p


def output_dir(path: str | Path, flag: str) -> Path:
    """``path`` as a folder to write reports into (created if missing): not an existing file, writable."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{flag} {path}: is a file, expected a folder")
    existing = next((q for q in (p, *p.parents) if q.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise UsageError(f"{flag} {path}: {existing} is not a writable folder")
    return p
