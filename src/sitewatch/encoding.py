"""Decode fetched bytes: charset from the HTTP header, then <meta>, then BOM/UTF-8, then detection."""

from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-:.]+)", re.I)
# GB2312 and GBK pages routinely contain characters only GB18030 (their superset) defines.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030",
              "iso-8859-1": "cp1252", "latin-1": "cp1252", "ascii": "cp1252", "us-ascii": "cp1252"}


def _canonical(name: str) -> str | None:
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    return _canonical(m.group(1)) if m else None


def meta_charset(head: bytes) -> str | None:
    m = _META_CHARSET.search(head[:4096])
    return _canonical(m.group(1).decode("ascii", "ignore")) if m else None


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return (text, encoding name). Never raises: undecodable bytes are replaced."""
    declared = header_charset(content_type) or meta_charset(body)
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace"), "utf-8"
    if declared:
        codec = _SUPERSETS.get(declared, declared)
        try:
            return body.decode(codec), declared
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        # undeclared and not UTF-8: on a Chinese portal that is GBK/GB2312, which GB18030 covers (Big5 and
        # EUC-KR bytes would decode too, and detection used to pick GB18030 for them as well)
        return body.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # only for pages neither UTF-8 nor GB18030; ~2 MB to import

    best = from_bytes(body[:65536]).best()
    name = _canonical(best.encoding) if best and best.encoding else None
    codec = _SUPERSETS.get(name or "", name or "utf-8")
    return body.decode(codec, "replace"), name or "utf-8"
