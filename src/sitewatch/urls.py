"""URL normalisation and crawl scope: what is one URL, what is inside the site, what is a trap."""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from sitewatch.memo import memo

NOT_FETCHED_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "sms:", "about:", "blob:", "file:", "ftp:")

ATTACHMENT_EXTENSIONS = frozenset(
    ".pdf .doc .docx .xls .xlsx .wps .et .dps .ppt .pptx .zip .rar .7z .gz .tar .txt .csv .ofd .ceb"
    " .jpg .jpeg .png .gif .bmp .webp .svg .ico .mp3 .mp4 .avi .wmv .flv .swf .exe .apk .dwg".split()
)

_SESSION_PARAMS = re.compile(r"^(jsessionid|phpsessid|sessionid|sid|aspsessionid\w*|cfid|cftoken|sessid)$", re.I)
_SESSION_PATH = re.compile(r";(jsessionid|phpsessid|sessionid)=[^/?#]*", re.I)
_TEMPLATE_MARKER = re.compile(r"\{\{|\}\}|\$\{|<%|%>|\{\$|<\?")
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = "/:@!$&'()*+,;=-._~%?"


@memo(1024)
def classify_href(raw: str) -> str | None:
    """Return None for a fetchable href, or why it is not fetched ("scheme", "template", "empty", "fragment")."""
    h = raw.strip()
    if not h:
        return "empty"
    if h.startswith("#"):
        return "fragment"
    low = h[:12].lower().replace(" ", "")
    if low.startswith(NOT_FETCHED_SCHEMES):
        return "scheme"
    if _TEMPLATE_MARKER.search(h):
        return "template"
    return None


def normalize(url: str, base: str | None = None) -> str | None:
    """Absolute, canonical form of a URL (see :func:`_normalize`), memoised on what the result depends on:
    an absolute URL on itself, a root-relative one on the base's host, a relative path on the base's folder."""
    if base is None or url.startswith(("http://", "https://")):
        return _normalize_cached(url, None)
    key = _base_key(url, base)
    return _normalize(url, base) if key is None else _normalize_cached(url, key)


def _base_key(ref: str, base: str) -> str | None:
    """The part of ``base`` that resolving the relative reference ``ref`` depends on: its root for a root-relative
    path, its folder for a relative one; None when it depends on the whole base (query, fragment, params …)."""
    if ref.startswith("/") and not ref.startswith("//"):
        return base[:base.find("/", base.find("//") + 2) + 1] or base
    if ref[:1] in ("?", "#", "") or ref.startswith("//") or "?" in base or "#" in base or ";" in base \
            or base.count("/") < 3:
        return None
    return base[:base.rfind("/") + 1]


@memo(1024)
def _normalize_cached(url: str, base: str | None) -> str | None:
    return _normalize(url, base)


def join(base: str, href: str) -> str:
    """``urljoin(base, href)``, memoised like :func:`normalize` on what the result depends on."""
    if href.startswith(("http://", "https://")):
        return _join(base[:base.find(":") + 1], href)
    key = _base_key(href, base)
    return urljoin(base, href) if key is None else _join(key, href)


@memo(1024)
def _join(base: str, href: str) -> str:
    return urljoin(base, href)


_TAB_NEWLINE = str.maketrans("", "", "\t\r\n")      # browsers drop them from URLs


def _normalize(url: str, base: str | None = None) -> str | None:
    """Absolute, canonical form of a URL for fetching and de-duplication; None if it is not http(s).

    Resolves against ``base``, strips the fragment and session ids, lower-cases scheme and host, drops
    default ports, removes dot segments and percent-encodes non-ASCII characters as browsers do (UTF-8).
    """
    url = url.strip().replace("\\", "/") if "\\" in url else url.strip()
    if "\t" in url or "\r" in url or "\n" in url:
        url = url.translate(_TAB_NEWLINE)
    if base is not None:
        try:
            url = urljoin(base, url)
        except ValueError:
            return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return None
    try:
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    except UnicodeError:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    path = _SESSION_PATH.sub("", parts.path) or "/"
    if "." in path:
        trailing = path.endswith("/")
        path = posixpath.normpath(path)
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
        if trailing and not path.endswith("/"):
            path += "/"
    path = quote(path, safe=_PATH_SAFE)
    query = parts.query
    if query:
        if _has_session_param(query):
            query = "&".join(p for p in query.split("&") if not _SESSION_PARAMS.match(p.split("=", 1)[0]))
        query = quote(query, safe=_QUERY_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))


def _has_session_param(query: str) -> bool:
    return any(_SESSION_PARAMS.match(p.split("=", 1)[0]) for p in query.split("&"))


def extension(url: str) -> str:
    """The lower-cased file extension of a URL's path ('' if none)."""
    path = urlsplit(url).path
    ext = posixpath.splitext(path)[1].lower()
    return unquote(ext)


@memo(1024)
def is_attachment(url: str) -> bool:
    """A downloadable file (checked, never parsed): .pdf .doc(x) .xls(x) .wps .zip .rar, images ..."""
    return extension(url) in ATTACHMENT_EXTENSIONS


def directory_of(url: str) -> str:
    """The URL's directory (up to and including the last '/'), the default scope of a start URL."""
    parts = urlsplit(url)
    path = parts.path if parts.path.endswith("/") else parts.path.rsplit("/", 1)[0] + "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def host_key(url: str) -> str:
    """scheme://host[:port] of a URL: the unit of politeness."""
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}"


@dataclass
class Scope:
    """A site is a set of hosts plus path prefixes; everything else is checked but never crawled."""

    prefixes: list[str]                                  # absolute URL prefixes, e.g. http://h/xqbsc/
    excludes: list[re.Pattern[str]] = field(default_factory=list)

    @classmethod
    def for_start_urls(cls, start_urls: list[str], prefixes: list[str] | None = None,
                       extra_hosts: list[str] | None = None, excludes: list[str] | None = None) -> "Scope":
        """Default scope: the start URLs' directories; ``prefixes`` may be paths ("/xqbsc/") or absolute URLs."""
        resolved: list[str] = []
        hosts = [host_key(u) for u in start_urls]
        for p in prefixes or []:
            if p.startswith(("http://", "https://")):
                resolved.append(normalize(p) or p)
            else:
                resolved.extend(h + "/" + p.lstrip("/") for h in hosts)
        if not resolved:
            resolved = [directory_of(normalize(u) or u) for u in start_urls]
        for h in extra_hosts or []:
            resolved.append(h.rstrip("/") + "/" if h.startswith(("http://", "https://")) else f"http://{h}/")
            if not h.startswith(("http://", "https://")):
                resolved.append(f"https://{h}/")
        return cls(prefixes=sorted(set(resolved)), excludes=[re.compile(x) for x in excludes or []])

    def in_scope(self, url: str) -> bool:
        """True when the URL belongs to the site (crawl it), False when it is only to be checked."""
        if not any(url.startswith(p) for p in self.prefixes):
            return False
        return not any(x.search(url) for x in self.excludes)

    def excluded(self, url: str) -> bool:
        return any(x.search(url) for x in self.excludes)


class TrapGuard:
    """Bounds crawler traps: repeating path segments, deep paths, endless query variants of one path."""

    def __init__(self, max_query_variants: int = 50, max_segment_repeats: int = 2, max_path_depth: int = 16):
        self.max_query_variants = max_query_variants
        self.max_segment_repeats = max_segment_repeats
        self.max_path_depth = max_path_depth
        self._variants: dict[str, int] = defaultdict(int)

    def admit(self, url: str) -> str | None:
        """None when the URL may be crawled, else the trap kind that rejects it."""
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) > self.max_path_depth:
            return "deep_path"
        seen: dict[str, int] = {}
        for s in segments:
            seen[s] = seen.get(s, 0) + 1
            if seen[s] > self.max_segment_repeats:
                return "repeating_segments"
        if parts.query:
            key = parts.path
            if self._variants[key] >= self.max_query_variants:
                return "query_variants"
            self._variants[key] += 1
        return None
