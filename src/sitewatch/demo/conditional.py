"""Conditional requests as a static web server answers them (nginx's static module, RFC 9110 section 13).

A static answer carries two validators: `Last-Modified` (the file's modification time as an HTTP date) and an
nginx-style strong `ETag`, `"<hex mtime>-<hex length>"`. A request whose `If-None-Match` matches the ETag (weak
comparison, `*`, lists), or, when it has no `If-None-Match`, whose `If-Modified-Since` is not older than
`Last-Modified`, gets `304 Not Modified` without a body. The demo server and the tests' loopback server share
these functions.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime

Headers = Message | Mapping[str, str]   # a request's headers (http.server's are a case-insensitive Message)
ENTITY_TAG = re.compile(r'\s*(W/)?("[^"]*")\s*(?:,|$)')


def http_date(moment: dt.datetime) -> str:
    """An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return format_datetime(moment.astimezone(dt.UTC).replace(microsecond=0), usegmt=True)


def parse_http_date(value: str) -> dt.datetime | None:
    """An HTTP date as an aware UTC datetime; None when it is not a date (the header is then ignored)."""
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def nginx_etag(mtime: dt.datetime, length: int) -> str:
    """nginx's ETag: hex seconds since the epoch of the modification time, a dash, hex length; strong, quoted."""
    if mtime.tzinfo is None:
        mtime = mtime.replace(tzinfo=dt.UTC)
    return f'"{int(mtime.timestamp()):x}-{length:x}"'


def validators(mtime: dt.datetime, length: int) -> dict[str, str]:
    """The `Last-Modified` and `ETag` headers of a static answer of `length` bytes modified at `mtime`."""
    return {"Last-Modified": http_date(mtime), "ETag": nginx_etag(mtime, length)}


def etag_list(header: str) -> list[str] | None:
    """The opaque tags of an `If-None-Match` value (weakness dropped), ["*"] for `*`; None when malformed."""
    header = header.strip()
    if header == "*":
        return ["*"]
    tags: list[str] = []
    pos = 0
    while pos < len(header):
        m = ENTITY_TAG.match(header, pos)
        if m is None or m.end() == pos:
            return None
        tags.append(m.group(2))
        pos = m.end()
    return tags


def none_match(header: str, etag: str) -> bool:
    """Whether `If-None-Match: header` matches `etag` by weak comparison (RFC 9110 8.8.3.2), i.e. 304 is due."""
    tags = etag_list(header)
    if not tags:
        return False
    if tags == ["*"]:
        return True
    opaque = etag.removeprefix("W/")
    return opaque in tags


def not_modified(request_headers: Headers, etag: str, last_modified: dt.datetime) -> bool:
    """Whether a GET or HEAD with these headers gets 304: If-None-Match decides when present, else If-Modified-Since.

    `request_headers` is looked up with `.get`, as `http.client.HTTPMessage` (case-insensitive) allows.
    """
    inm = request_headers.get("If-None-Match")
    if inm is not None:
        return none_match(inm, etag)
    ims = request_headers.get("If-Modified-Since")
    if ims is None:
        return False
    since = parse_http_date(ims)
    if since is None:
        return False
    if last_modified.tzinfo is None:
        last_modified = last_modified.replace(tzinfo=dt.UTC)
    return since >= last_modified.replace(microsecond=0)


def conditional_present(request_headers: Headers) -> bool:
    """Whether the request carries a validator at all (what a server that answers 304 wrongly looks at)."""
    return request_headers.get("If-None-Match") is not None or request_headers.get("If-Modified-Since") is not None
