"""互动回应差 (V4): a consultation channel somewhere on the site; public messages answered in time."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import lxml.html

from sitewatch.dates import parse_date
from sitewatch.models import Finding
from sitewatch.rules._page import (
    PageCheck,
    PageContext,
    PageView,
    entry_link,
    keyword_regex,
    literal_words,
    squash,
)
from sitewatch.rules.registry import page_check
from sitewatch.workdays import working_days_between

NO_CHANNEL = "interaction.no_channel"
UNANSWERED = "interaction.unanswered"
SLOW = "interaction.slow_reply"

_DATE = r"(\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2})"
_ANY_DATE = re.compile(_DATE)
_STATUS_HEAD = re.compile(r"状态|进度")
_TITLE_HEAD = re.compile(r"标题|主题|事项|内容|留言")
DONE, PENDING, UNKNOWN = "done", "pending", ""


@dataclass(slots=True)
class Message:
    url: str                  # the message's own page, or the list page it was read on
    page: str                 # where it was read
    title: str
    asked: dt.date
    replied: dt.date | None
    state: str                # DONE, PENDING or UNKNOWN
    status: str               # the status text shown, if any

    @property
    def key(self) -> str:
        return self.url if self.url != self.page else f"{self.page}#{self.title}#{self.asked}"


@page_check(NO_CHANNEL, UNANSWERED, SLOW)
class Interaction(PageCheck):
    def __init__(self, ctx: PageContext):
        super().__init__(ctx)
        ruleset = ctx.ruleset
        self.start_url = ctx.site
        self.want_channel = ruleset.enabled(NO_CHANNEL)
        self.want_messages = ruleset.enabled(UNANSWERED) or ruleset.enabled(SLOW)
        has_channel, has_unanswered = ruleset.has(NO_CHANNEL), ruleset.has(UNANSWERED)

        def kw(key: str) -> tuple[str, ...]:
            return ruleset.keywords(NO_CHANNEL, key) if has_channel else ()

        def mk(key: str) -> tuple[str, ...]:
            return ruleset.keywords(UNANSWERED, key) if has_unanswered else ()

        self.channel_re = keyword_regex(kw("channel"))
        self.channel_words = literal_words(kw("channel"))
        self.platform_words = literal_words(kw("platform"))
        self.exclude_words = literal_words(kw("exclude"))
        asked, replied = keyword_regex(mk("asked")), keyword_regex(mk("replied"))
        self.ask_head = asked
        self.reply_head = replied
        self.ask_label = re.compile(f"(?:{asked.pattern})\\s*[:：]?\\s*{_DATE}") if asked else None
        self.reply_label = re.compile(f"(?:{replied.pattern})\\s*[:：]?\\s*{_DATE}") if replied else None
        self.done_re = keyword_regex(mk("done"))
        self.pending_re = keyword_regex(mk("pending"))
        self.pages = 0
        self.channel: dict[str, str] | None = None
        self.messages: dict[str, Message] = {}

    # facts of a page: {"channel": {"link": url, "text": text(, "form": "textarea")}, "messages": [{"url": url,
    # "title": title, "asked": ISO date, "replied": ISO date or None, "state": state, "status": status}, ...]},
    # each key only when it has something

    # -- channel -------------------------------------------------------------------------------------------
    def on_page(self, view: PageView) -> Any:
        if not self.want_channel:
            return None
        channel = entry_link(view, self.channel_words, self.platform_words, self.exclude_words)
        if channel is None and self.channel_re and self.channel_re.search(view.title) \
                and next(view.doc.iter("textarea"), None) is not None:
            channel = {"link": view.url, "text": view.title, "form": "textarea"}
        return {"channel": channel} if channel is not None else None

    # -- messages ------------------------------------------------------------------------------------------
    def on_main(self, view: PageView, early: Any) -> Any:
        if not self.want_messages or self.ask_head is None:
            return early
        if not self.ask_head.search(view.main_text) and not (self.done_re and self.done_re.search(view.main_text)) \
                and not (self.pending_re and self.pending_re.search(view.main_text)):
            return early
        body = view.doc.find("body")
        if body is None:
            return early
        found: list[Message] = []
        self._tables(view, body, found)
        self._rows(view, body, found, found_rows=bool(found))
        if not found and self.ask_label:
            m = self.ask_label.search(view.main_text)
            asked = parse_date(m.group(1)) if m else None
            if asked:
                replied, state, status = self._state(view.main_text, None)
                found.append(Message(view.url, view.url, view.title, asked, replied, state, status))
        if not found:
            return early
        facts: dict[str, Any] = dict(early or {})
        facts["messages"] = [{"url": m.url, "title": m.title, "asked": m.asked.isoformat(),
                              "replied": m.replied.isoformat() if m.replied else None, "state": m.state,
                              "status": m.status} for m in found]
        return facts

    def absorb(self, url: str, facts: Any) -> None:
        self.pages += 1
        if not facts:
            return
        channel = facts.get("channel")
        if channel is not None and self.channel is None:       # the first page naming a channel
            self.channel = {"page": url, **channel}
        for m in facts.get("messages", ()):
            replied = m["replied"]
            self._add(Message(m["url"], url, m["title"], dt.date.fromisoformat(m["asked"]),
                              dt.date.fromisoformat(replied) if replied else None, m["state"], m["status"]))

    def _state(self, text: str, reply_cell: str | None) -> tuple[dt.date | None, str, str]:
        """Reply date, state and status text of one message from its row text (or its reply cell)."""
        replied = None
        if reply_cell is not None:
            replied = parse_date(reply_cell)
        elif self.reply_label:
            m = self.reply_label.search(text)
            replied = parse_date(m.group(1)) if m else None
        pending = self.pending_re.search(text) if self.pending_re else None
        done = self.done_re.search(text) if self.done_re else None
        either = pending or done
        status = either.group(0) if either else ""
        if replied:
            return replied, DONE, status
        if pending:
            return None, PENDING, status
        if done:
            return None, DONE, status
        if reply_cell is not None and not reply_cell.strip():
            return None, PENDING, "回复时间为空"
        return None, UNKNOWN, status

    def _tables(self, view: PageView, body: lxml.html.HtmlElement, found: list[Message]) -> None:
        for table in body.iter("table"):
            rows = [tr for tr in table.iter("tr") if _owner_table(tr) is table]
            for h, tr in enumerate(rows[:3]):
                heads = [squash(c.text_content()) for c in _cells(tr)]
                ask_i = _index(heads, self.ask_head)
                if ask_i is None:
                    continue
                reply_i = _index(heads, self.reply_head) if self.reply_head else None
                status_i = _index(heads, _STATUS_HEAD)
                title_i = _index(heads, _TITLE_HEAD, skip={ask_i, reply_i, status_i})
                for row in rows[h + 1:]:
                    cells = [squash(c.text_content()) for c in _cells(row)]
                    if len(cells) <= ask_i:
                        continue
                    asked = parse_date(cells[ask_i])
                    if asked is None:
                        continue
                    reply_cell = cells[reply_i] if reply_i is not None and reply_i < len(cells) else None
                    status_text = cells[status_i] if status_i is not None and status_i < len(cells) else ""
                    replied, state, status = self._state(status_text, reply_cell)
                    href, link_text = _first_link(row, view.parsed.base or view.url)
                    title = cells[title_i] if title_i is not None and title_i < len(cells) else link_text
                    found.append(Message(href or view.url, view.url, title[:80], asked, replied, state, status))
                break

    def _rows(self, view: PageView, body: lxml.html.HtmlElement, found: list[Message], found_rows: bool) -> None:
        message_page = bool(self.channel_re and (self.channel_re.search(view.title)
                                                 or any(self.channel_re.search(h) for h in view.headings)))
        for el in body.iter("li", "dl"):
            if el.find(".//li") is not None or el.find(".//dl") is not None:
                continue
            text = squash(el.text_content())
            m = self.ask_label.search(text) if self.ask_label else None
            if m:
                asked = parse_date(m.group(1))
            elif message_page and not found_rows:
                dm = _ANY_DATE.search(text)
                asked = parse_date(dm.group(1)) if dm else None
            else:
                asked = None
            if asked is None:
                continue
            replied, state, status = self._state(text, None)
            href, link_text = _first_link(el, view.parsed.base or view.url)
            found.append(Message(href or view.url, view.url, (link_text or text)[:80], asked, replied, state, status))

    def _add(self, msg: Message) -> None:
        old = self.messages.get(msg.key)
        if old is None or (old.state == UNKNOWN and msg.state != UNKNOWN) or (old.replied is None and msg.replied):
            self.messages[msg.key] = msg

    # -- findings ------------------------------------------------------------------------------------------
    def findings(self, as_of: dt.date) -> list[Finding]:
        out: list[Finding] = []
        rs = self.ruleset
        if self.want_channel and self.channel is None and self.pages:
            out.append(Finding(
                rule=NO_CHANNEL, severity=rs.severity(NO_CHANNEL), url=self.start_url,
                message=f"在{self.pages}个页面中未发现网上咨询建言渠道（咨询/留言/信箱/建言/互动交流或统一互动平台链接）；"
                        "要求：提供有效咨询建言渠道",
                evidence={"pages_checked": self.pages, "keywords": list(rs.keywords(NO_CHANNEL, "channel")),
                          "platform": list(rs.keywords(NO_CHANNEL, "platform"))}))
        if not self.want_messages:
            return out
        unanswered_on = rs.enabled(UNANSWERED)
        slow_on = rs.enabled(SLOW)
        max_days = int(rs.threshold(UNANSWERED, "max_days")) if rs.has(UNANSWERED) else 92
        window = dt.timedelta(days=int(rs.threshold(UNANSWERED, "lookback_days")) if rs.has(UNANSWERED) else 365)
        max_wd = int(rs.threshold(SLOW, "max_working_days")) if slow_on else 0
        slow_window = dt.timedelta(days=int(rs.threshold(SLOW, "lookback_days"))) if slow_on else window
        judged: set[tuple[str, dt.date]] = set()
        # a message seen both as a list row and on its own page is one message: the list row (url != page) wins
        for m in sorted(self.messages.values(), key=lambda m: (m.asked, m.url, m.url == m.page)):
            if m.asked > as_of or m.state == UNKNOWN or (m.url, m.asked) in judged:
                continue
            judged.add((m.url, m.asked))
            end = m.replied if m.replied else (as_of if m.state == PENDING else None)
            if end is None or end > as_of:
                continue
            days = (end - m.asked).days
            if unanswered_on and days > max_days and end >= as_of - window:
                shown = f"{m.replied}回复" if m.replied else (m.status or "未回复")
                out.append(Finding(
                    rule=UNANSWERED, severity=rs.severity(UNANSWERED), url=m.url, found_on=[m.page],
                    message=f"留言“{m.title}”{m.asked}提交，{shown}，"
                            f"{'回复用时' if m.replied else '已'}{days}天（阈值：超过{max_days}天即3个月未回应）",
                    evidence={"asked": m.asked.isoformat(), "replied": m.replied.isoformat() if m.replied else None,
                              "status": m.status, "days": days, "max_days": max_days},
                    extra={"item": f"{m.title}@{m.asked.isoformat()}"}))
            elif slow_on and m.replied and m.replied >= as_of - slow_window:
                wd, guessed = working_days_between(m.asked, m.replied)
                if wd > max_wd:
                    how = ("按国务院节假日安排计" if not guessed else
                           f"{'、'.join(map(str, guessed))}年节假日安排未知，按周一至周五计")
                    out.append(Finding(
                        rule=SLOW, severity=rs.severity(SLOW), url=m.url, found_on=[m.page],
                        message=f"留言“{m.title}”{m.asked}提交，{m.replied}回复，用时{wd}个工作日"
                                f"（阈值：{max_wd}个工作日；{how}）",
                        evidence={"asked": m.asked.isoformat(), "replied": m.replied.isoformat(),
                                  "working_days": wd, "max_working_days": max_wd,
                                  "calendar": "State Council holiday arrangement" if not guessed else
                                              f"Monday to Friday in {', '.join(map(str, guessed))} (no holiday "
                                              "arrangement known)"},
                        extra={"item": f"{m.title}@{m.asked.isoformat()}"}))
        return out


def _owner_table(tr: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    for anc in tr.iterancestors("table"):
        return anc
    return None


def _cells(tr: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    return [c for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")]


def _index(heads: list[str], pattern: re.Pattern[str] | None, skip: set[int | None] | None = None) -> int | None:
    if pattern is None:
        return None
    for i, h in enumerate(heads):
        if len(h) <= 20 and pattern.search(h) and i not in (skip or ()):
            return i
    return None


def _first_link(el: lxml.html.HtmlElement, base: str) -> tuple[str | None, str]:
    for a in el.iter("a"):
        href = (a.get("href") or "").strip()
        if href and not href.startswith(("#", "javascript:", "mailto:", "tel:")):
            return urljoin(base, href).split("#", 1)[0], squash(a.text_content())
    return None, ""
