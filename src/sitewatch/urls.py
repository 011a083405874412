"""URL normalisation and crawl scope: what is one URL, what is inside the site, what is a trap."""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit, urlunsplit

from sitewatch.memo import memo
from sitewatch.safetext import safe_text

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


@memo()
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


@memo()
def _normalize_cached(url: str, base: str | None) -> str | None:
    return _normalize(url, base)


def join(base: str, href: str) -> str:
    """``urljoin(base, href)``, memoised like :func:`normalize` on what the result depends on."""
    if href.startswith(("http://", "https://")):
        return _join(base[:base.find(":") + 1], href)
    key = _base_key(href, base)
    return urljoin(base, href) if key is None else _join(key, href)


@memo()
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
    if "." in path or "%2" in path:
        path = remove_dot_segments(path)
    path = quote(path, safe=_PATH_SAFE)
    query = parts.query
    if query:
        if _has_session_param(query):
            query = "&".join(p for p in query.split("&") if not _SESSION_PARAMS.match(p.split("=", 1)[0]))
        query = quote(query, safe=_QUERY_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))


_DOT = {".", "%2e", "%2E"}
_DOTDOT = {"..", ".%2e", ".%2E", "%2e.", "%2E.", "%2e%2e", "%2E%2E", "%2e%2E", "%2E%2e"}


def remove_dot_segments(path: str) -> str:
    """``.`` and ``..`` segments resolved as a browser does (WHATWG URL, RFC 3986 5.2.4; ``%2e`` is a dot): a final
    ``..`` or ``.`` leaves a trailing slash (``/a/b/..`` is ``/a/``), empty segments stay (``a//b.html``), and ``..``
    never climbs above the root."""
    segments = path.split("/")
    out: list[str] = []
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        if seg in _DOTDOT:
            if len(out) > 1:
                out.pop()
            if i == last:
                out.append("")
        elif seg in _DOT:
            if i == last:
                out.append("")
        else:
            out.append(seg)
    return "/".join(out) if out != [""] else "/"


def _has_session_param(query: str) -> bool:
    return any(_SESSION_PARAMS.match(p.split("=", 1)[0]) for p in query.split("&"))


def malformed(url: str) -> str | None:
    """Why ``url`` cannot be requested at all (a bracket left open, an out-of-range port, no host, spaces or
    controls in the host), or None. A malformed link is reported as such, never sent and never a crash."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return str(exc)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https"):
        return f"not an http(s) URL: scheme {parts.scheme!r}"
    if not host:
        return "no host"
    if port == 0:
        return "port 0"
    if any(c.isspace() or ord(c) < 0x20 or c in "<>\"^`{|}%" for c in host):
        return "characters a host name cannot have"
    return None


def extension(url: str) -> str:
    """The lower-cased file extension of a URL's path ('' if none)."""
    path = urlsplit(url).path
    ext = posixpath.splitext(path)[1].lower()
    return unquote(ext)


@memo()
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
                       extra_hosts: list[str] | None = None, excludes: list[str] | None = None) -> Scope:
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


# A column's next list pages: TRS/JCMS index_1.html, 成都 column-index-2.shtml, list_3.htm; a bare 2.html only under a
# pager's link text; or a page-number query parameter (Hanweb pageNum, JSP cur_page, page, pageIndex ...).
_PAGED_FILE = re.compile(r"^(?:index|default|list|more|column-index)[_-]\d{1,5}\.(?:s?html?|jsp|php|aspx?)$", re.I)
_NUMBERED_FILE = re.compile(r"^\d{1,5}\.(?:s?html?|jsp|php|aspx?)$", re.I)
_PAGER_TEXT = re.compile(r"^\s*(?:下一?页|上一?页|后页|前页|尾页|末页|最后一页|首页|第一页|"
                         r"next|prev(?:ious)?|last|first|"
                         r"[>»›<«‹]{1,2}|\[?\d{1,5}\]?)\s*$", re.I)
_PAGE_PARAMS = frozenset("page pageno pagenum pagenumber pageindex page_no page_num cur_page curpage currentpage "
                         "current_page pn pageid".split())


@memo()
def _split(url: str) -> SplitResult | None:
    """``urlsplit(url)``, or None for a URL it refuses (an unclosed or invalid bracketed host); memoised, as a
    list page's pager and navigation links are tested against it once per link (``urlsplit``'s own table holds
    only 128)."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _page_param(query: str) -> tuple[str, str] | None:
    """(the query without its page-number parameter, the parameter's name) when it has one, else None."""
    parts = query.split("&")
    for i, p in enumerate(parts):
        name, _, value = p.partition("=")
        if name.lower() in _PAGE_PARAMS and value.isdigit():
            return "&".join(parts[:i] + parts[i + 1:]), name
    return None


def is_pagination(page_url: str, target: str, text: str = "") -> bool:
    """True when ``target`` is another list page of the list ``page_url`` shows (下一页, index_N, ?page=N).

    Following such a link does not take the crawl one click deeper: a column's tail is as close to the homepage
    as its first page. Only pages of the same folder (or the same path with another page number) count.
    """
    a, b = _split(page_url), _split(target)
    if a is None or b is None or a.netloc != b.netloc or a.scheme != b.scheme:
        return False
    if a.path == b.path:                                   # the same list, another page number in the query
        pb = _page_param(b.query)
        pa = _page_param(a.query)
        return pb is not None and (pa[0] if pa else a.query) == pb[0]
    folder_a, _, name_a = a.path.rpartition("/")
    folder_b, _, name_b = b.path.rpartition("/")
    if folder_a != folder_b or b.query:
        return False
    if _PAGED_FILE.match(name_b):
        return True
    pager = bool(_PAGER_TEXT.match(text)) if text else False
    if _NUMBERED_FILE.match(name_b):
        return pager
    if not name_b or name_b.lower().startswith(("index.", "default.")):   # back to the first page
        return bool(_PAGED_FILE.match(name_a) or _NUMBERED_FILE.match(name_a))
    return False


def is_list_page_url(url: str) -> bool:
    """A later page of a list by its URL alone: ``index_3.html``, ``2.html``, or a page-number query parameter."""
    parts = _split(url)
    if parts is None:
        return False
    name = parts.path.rpartition("/")[2]
    return bool(_PAGED_FILE.match(name) or _NUMBERED_FILE.match(name)) or \
        (bool(parts.query) and _page_param(parts.query) is not None)


def is_paged_url(url: str) -> bool:
    """A later page of a list by its URL alone, the certain shapes only: ``index_3.html`` (TRS, JCMS),
    ``column-index-2.shtml``, ``list_3.htm``, or a page-number query parameter. A bare ``2.html`` is a later list
    page only when a list's pager links to it (``is_pagination``): articles are named so too."""
    parts = _split(url)
    if parts is None:
        return False
    return bool(_PAGED_FILE.match(parts.path.rpartition("/")[2])) or \
        (bool(parts.query) and _page_param(parts.query) is not None)


_COLUMN_FILE = re.compile(r"^(?:index|default|list|column-index)(?:\.(?:s?html?|jsp|php|aspx?|do|action))?$", re.I)


def is_column_url(url: str) -> bool:
    """A column's first page by its URL: a folder (``/zwgk/tzgg/``) or its index page (``index.html``,
    ``index.shtml``, ``default.aspx``, Hanweb ``/col/col123/index.html``, gkmlpt ``/gkmlpt/index``), without a
    query (``index.php?id=5`` is an article of a CMS that serves everything from one script). Articles are files
    named after their date or number (``t20250321_97999.htm``, ``art_1_2.html``, ``post_123.html``)."""
    parts = _split(url)
    if parts is None or parts.query:
        return False
    name = parts.path.rpartition("/")[2]
    return not name or bool(_COLUMN_FILE.match(name))


class TrapGuard:
    """Bounds crawler traps: repeating path segments, deep paths, endless query variants of one path.

    A column's list pages that differ only in a page-number parameter are bounded separately (``max_list_pages``
    per list), so a long paginated column is not cut at the query-variant bound meant for calendars and filters.
    """

    def __init__(self, max_query_variants: int = 50, max_segment_repeats: int = 2, max_path_depth: int = 16,
                 max_list_pages: int = 5000):
        self.max_query_variants = max_query_variants
        self.max_segment_repeats = max_segment_repeats
        self.max_path_depth = max_path_depth
        self.max_list_pages = max_list_pages
        self._variants: dict[str, int] = defaultdict(int)

    def admit(self, url: str) -> str | None:
        """None when the URL may be crawled, else the trap kind that rejects it."""
        parts = _split(url)
        if parts is None:
            return None              # not a URL the crawl can request; the fetch reports it as malformed
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) > self.max_path_depth:
            return "deep_path"
        seen: dict[str, int] = {}
        for s in segments:
            seen[s] = seen.get(s, 0) + 1
            if seen[s] > self.max_segment_repeats:
                return "repeating_segments"
        if parts.query:
            paged = _page_param(parts.query)
            key, limit, kind = (parts.path, self.max_query_variants, "query_variants") if paged is None else \
                (f"{parts.path}?{paged[0]}#{paged[1].lower()}", self.max_list_pages, "list_pages")
            if self._variants[key] >= limit:
                return kind
            self._variants[key] += 1
        return None


# ---------------------------------------------------------------- URLs as people read them

_PCT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_URL_IN_TEXT = re.compile(r"\b(?:https?|ftp)://[^\s\"'<>，；。、）】」]+", re.I)
# Punctuation Chinese file and column names use, decoded with the letters and digits; any other non-ASCII
# character (spaces, look-alikes of / ? # & =, controls, bidi marks) stays percent-encoded.
_SHOWN_PUNCTUATION = frozenset("（）【】《》〔〕「」『』、，。：；！—－·“”‘’…")


def _shown(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LN" or ch in _SHOWN_PUNCTUATION


def _decode_run(m: re.Match[str]) -> str:
    """A run of %XX escapes with every valid UTF-8 sequence of a readable non-ASCII character decoded; ASCII
    escapes (%2F, %3F, %20 …) stay as they are, since decoding them would change what the URL says."""
    raw = bytes.fromhex(m.group().replace("%", ""))
    out: list[str] = []
    i = 0
    while i < len(raw):
        b = raw[i]
        size = 2 if 0xC2 <= b <= 0xDF else 3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 0
        if size:
            try:
                ch = raw[i:i + size].decode("utf-8")
            except UnicodeDecodeError:
                ch = ""
            if len(ch) == 1 and _shown(ch):
                out.append(ch)
                i += size
                continue
        out.append(f"%{b:02X}")
        i += 1
    return "".join(out)


def _host_label(label: str) -> str:
    """An IDNA ``xn--`` label as Unicode when it is Chinese (Han, with ASCII letters, digits and hyphens);
    any other script stays in its ASCII form, as browsers do for look-alike domains."""
    if not label.lower().startswith("xn--"):
        return label
    try:
        text = label.encode("ascii").decode("idna")
    except (UnicodeError, ValueError):
        return label
    han = all(("\u4e00" <= ch <= "\u9fff") or (ch.isascii() and (ch.isalnum() or ch == "-")) for ch in text)
    return text if han and any(not ch.isascii() for ch in text) else label


def display_url(url: str) -> str:
    """``url`` as a person reads it (an IRI): percent-encoded UTF-8 letters in the path, query and fragment and
    IDNA (``xn--``) Chinese host names shown as characters. For display only: links, the store and the JSON keep
    the exact URL. What it shows stays inert (``safetext``): only letters, digits and common Chinese punctuation
    are decoded, and control or bidi characters already in the text are shown as escapes."""
    text = str(url)
    head, sep, rest = text.partition("://")
    if sep and rest:
        end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
        authority, tail = rest[:end], rest[end:]
        userinfo, at, hostport = authority.rpartition("@")
        host, colon, port = hostport.partition(":") if not hostport.startswith("[") else (hostport, "", "")
        host = ".".join(_host_label(lb) for lb in host.split("."))
        text = f"{head}://{userinfo}{at}{host}{colon}{port}{_PCT_RUN.sub(_decode_run, tail)}"
    else:
        text = _PCT_RUN.sub(_decode_run, text)
    return safe_text(text)


def display_urls_in(text: str) -> str:
    """``text`` with every http(s) URL in it shown by ``display_url`` (a location line, a message)."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: display_url(m.group()), text)


def short_url(url: str, limit: int = 64, relative_to: str | None = None) -> str:
    """``display_url`` shortened for a narrow column: scheme dropped (and the host too when it is the host of
    ``relative_to``), then the middle of the path left out (host, first folder, …, file name) when it is longer
    than ``limit`` characters."""
    text = display_url(url)
    if relative_to:
        origin = display_url(relative_to).partition("://")
        own = origin[0] + origin[1] + origin[2].split("/", 1)[0] + "/"
        if origin[1] and text.startswith(own):
            text = text[len(own) - 1:]
    for scheme in ("https://", "http://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme):]
            break
    if len(text) <= limit:
        return text
    host, slash, path = text.partition("/")
    parts = path.split("/")
    if len(parts) > 2:
        cut = f"{host}/{parts[0]}/…/{parts[-1]}"
        if len(cut) <= limit:
            return cut
    keep = max(limit - 1, 8)
    return text[:keep * 2 // 3] + "…" + text[-(keep - keep * 2 // 3):]
