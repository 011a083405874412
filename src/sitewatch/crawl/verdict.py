"""Turn what a URL answered into a verdict: ok, broken (with the reason), or a non-broken note."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sitewatch.crawl.fetch import FetchResult

OK = "ok"
BROKEN = "broken"
SKIPPED = "skipped"        # not fetched on purpose (robots.txt, the network policy)
WARNING = "warning"        # works, but worth a note (persistent 429)

# Titles and short bodies that mean "this page does not exist" on Chinese and English servers. Only error
# PHRASES count: a bare 404 inside a number (第404期, 2024040401号, t20240404_404123) is not one; 404 counts
# with an error word next to it (404 Not Found, HTTP 404, 404错误, 错误404) or as a whole title segment ("404").
_NUM404 = r"(?<![0-9])404(?![0-9])"
_SOFT404_TITLE = re.compile(
    r"(^\s*404\s*([-_|｜–—:：].*)?$|^.*[-_|｜–—:：]\s*404\s*$|"
    r"(HTTP|错误|error|状态码)\s*[-:：]?\s*" + _NUM404 + r"|"
    + _NUM404 + r"\s*[-:：]?\s*(not found|错误|error|页面|page)|"
    r"页面不存在|页面未找到|找不到(该)?页面|网页不存在|页面已(被)?删除|信息已(被)?删除|内容已(被)?删除|文章不存在|"
    r"信息不存在|资源不存在|文件不存在|访问的页面不存在|page not found|not found|无法找到|"
    r"已被删除|已删除|已撤销|已下线)",
    re.I,
)
_SOFT404_BODY = re.compile(
    r"(您(所)?(访问|请求|查找)的(页面|网页|信息|文章|内容)(不存在|已(被)?删除|已过期|找不到)|页面不存在|页面未找到|"
    r"信息已(被)?删除|该(信息|文章|内容|页面)已(被)?(删除|撤销|下线)|抱歉.{0,12}(不存在|找不到)|"
    r"(HTTP|错误代码|error)\s*[-:：]?\s*" + _NUM404 + r"|" + _NUM404 + r"\s*[-:：]?\s*(not found|错误|error)|"
    r"the page you (requested|are looking for) (was not found|does not exist))",
    re.I,
)
# Every match of _SOFT404_BODY holds one of these (404, or what 不存在/删除/找不到 … each branch ends with): most
# pages hold none, and testing them is ~10x cheaper than the regex tried at every position of the text
_SOFT404_BODY_WORDS = ("404", "不存在", "删除", "过期", "找不到", "未找到", "撤销", "下线")


def _may_say_missing(text: str) -> bool:
    return any(w in text for w in _SOFT404_BODY_WORDS) or "the page you" in text.lower()


SOFT404_MAX_TEXT = 1500     # an error page is short; a long article that mentions 404 is not one
STUB_MAX_TEXT = 40          # a deletion stub has (almost) no visible text


@dataclass(slots=True)
class Verdict:
    verdict: str
    reason: str = ""            # e.g. "http_404", "timeout", "soft404", "deleted_stub", "loop"
    detail: str = ""


@dataclass(slots=True)
class SiteErrorPage:
    """How a host answers a URL that certainly does not exist (learned by fetching a random one)."""

    status: int
    title: str
    text_len: int


def judge(res: FetchResult, *, title: str = "", text_len: int | None = None, text_sample: str = "",
          refresh: str | None = None, error_page: SiteErrorPage | None = None) -> Verdict:
    """Verdict for one fetched URL. ``title``/``text_*``/``refresh`` come from parsing an HTML body."""
    if res.error == "robots":
        return Verdict(SKIPPED, "robots", res.detail)
    if res.error == "blocked_address":     # an internal address: not requested, so neither broken nor working
        return Verdict(SKIPPED, "blocked_address", res.detail)
    if res.error:
        return Verdict(BROKEN, res.error, res.detail)
    status = res.status or 0
    if status == 429:
        return Verdict(WARNING, "rate_limited", f"HTTP 429, Retry-After {res.retry_after}")
    if status >= 400 or status < 200:
        return Verdict(BROKEN, f"http_{status}", f"HTTP {status}")
    if status == 204:
        return Verdict(OK, "no_content")
    if text_len is None:
        return Verdict(OK)
    if refresh and text_len <= STUB_MAX_TEXT and _is_parent_of(refresh, res.final_url or res.url):
        return Verdict(BROKEN, "deleted_stub", f"tiny page refreshing to its parent listing {refresh}")
    if _SOFT404_TITLE.search(title or "") and text_len <= SOFT404_MAX_TEXT * 2:
        return Verdict(BROKEN, "soft404", f"HTTP {status} but the title says: {title[:80]}")
    soft404 = _SOFT404_BODY.search(text_sample) \
        if text_len <= SOFT404_MAX_TEXT and _may_say_missing(text_sample) else None
    if soft404:
        return Verdict(BROKEN, "soft404", f"HTTP {status} but the page says: {soft404.group(0)}")
    if error_page and error_page.status == 200 and title and title == error_page.title \
            and abs(text_len - error_page.text_len) <= max(40, error_page.text_len // 10):
        return Verdict(BROKEN, "soft404", "HTTP 200 with the same page the site serves for a non-existent URL")
    return Verdict(OK)


def _is_parent_of(target: str, url: str) -> bool:
    t, u = urlsplit(target), urlsplit(url)
    if t.netloc != u.netloc:
        return False
    tp = t.path if t.path.endswith("/") else t.path.rsplit("/", 1)[0] + "/"
    up = u.path
    return up != t.path and up.startswith(tp) and (t.path.endswith("/")
                                                   or t.path.rsplit("/", 1)[-1].startswith("index"))


MESSAGES_ZH = {
    "timeout": "访问超时（服务器长时间无响应）",
    "refused": "连接被拒绝",
    "dns": "域名无法解析",
    "tls": "HTTPS 证书或加密连接错误",
    "connect": "无法建立连接",
    "read": "连接中断",
    "loop": "重定向循环",
    "too_many_redirects": "重定向次数过多",
    "bad_redirect": "重定向到无效地址",
    "soft404": "页面显示“不存在/已删除”（软404）",
    "deleted_stub": "文档已删除（空白页自动跳转回上级栏目）",
    "invalid_url": "链接地址格式错误，任何访问者都无法打开",
    "file_scheme": "链接指向本机磁盘文件（file:），访问者无法打开",
    "blocked_address": "链接指向内网、本机或云平台元数据地址，按网络安全策略未访问",
    "robots": "网站的 robots.txt 禁止抓取",
    "out_of_scope": "重定向到监测范围以外",
    "not_html": "不是网页",
    "not_fetched": "未访问",
}
UNKNOWN_ZH = "无法访问（原因未记录）"


def reason_text_zh(reason: str) -> str:
    """A failure reason in Chinese; the crawler's technical detail (an exception's text) is never shown to a
    reader: it stays in the finding's evidence."""
    if reason.startswith("http_"):
        return f"服务器返回 HTTP {reason[5:]}"
    return MESSAGES_ZH.get(reason, UNKNOWN_ZH)


def message_zh(reason: str, detail: str = "", redirected: bool = False) -> str:
    """Chinese explanation of why a link is broken, for findings and reports."""
    text = "链接无法访问：" + reason_text_zh(reason)
    if redirected and reason not in ("loop", "too_many_redirects", "bad_redirect"):
        text += "（经重定向后）"
    return text
