"""security.hidden_iframe (疑似网页挂马): a hidden frame of a foreign host is reported, a visible or own one never."""

import datetime as dt

import pytest

from sitewatch.config import SiteConfig
from sitewatch.extract import parse_html
from sitewatch.packs import load_rules
from sitewatch.rules import PageChecks

AS_OF = dt.date(2026, 11, 26)
SITE = "http://127.0.0.1/"
RULE = "security.hidden_iframe"


def frames_found(body: str, head: str = "", overrides=None) -> list:
    html = f"<html><head><title>通知</title>{head}</head><body><div class='main'>{body}</div></body></html>"
    url = SITE + "a/t20261120_1.html"
    checks = PageChecks(load_rules(overrides=overrides), SiteConfig(), [SITE])
    checks.on_page(url, html, parse_html(html, url))
    return [f for f in checks.findings(AS_OF) if f.rule == RULE]


@pytest.mark.parametrize("body,head,why", [
    ('<iframe src="http://bad.example.com/x.html" width="0" height="0"></iframe>', "", "width:0"),
    ('<iframe src="//bad.example.com/x" style="width:1px;height:1px"></iframe>', "", "width:1px"),
    ('<iframe src="http://bad.example.com/x" style="display:none" width="300" height="200"></iframe>', "",
     "display:none"),
    ('<div style="position:absolute;left:-9999px"><iframe src="http://bad.example.com/x"></iframe></div>', "",
     "position:absolute;left:-9999px"),
    ('<div class="ad"><iframe src="http://bad.example.com/x"></iframe></div>', "<style>.ad{visibility:hidden}</style>",
     ".ad {visibility:hidden}"),
    ('<frame src="http://bad.example.com/x" hidden>', "", "hidden attribute"),
])
def test_a_hidden_foreign_frame_is_reported(body, head, why):
    [f] = frames_found(body, head)
    assert f.severity == "review" and f.url == SITE + "a/t20261120_1.html"
    assert f.evidence["hosts"] == ["bad.example.com"] and f.evidence["frames"][0]["hidden_by"] == why
    assert f.message.startswith("疑似网页挂马：1个隐藏的框架加载非政府网站（bad.example.com）")


@pytest.mark.parametrize("body,head", [
    ('<iframe src="http://tianqi.example.com/w" width="260" height="26"></iframe>', ""),          # visible widget
    ('<iframe src="http://bad.example.com/x" width="100%" height="194"></iframe>', ""),
    ('<div class="ad"><iframe src="http://bad.example.com/x"></iframe></div>', "<style>.ad{color:red}</style>"),
    ('<iframe src="http://127.0.0.1/stat.html" width="0" height="0"></iframe>', ""),             # the site's own
    ('<iframe src="https://www.zs.gov.cn/count" width="0" height="0"></iframe>', ""),            # a government host
    ('<iframe src="javascript:void(0)" width="0" height="0"></iframe>', ""),
])
def test_a_visible_own_or_government_frame_is_not(body, head):
    assert frames_found(body, head) == []


def test_switched_off_rule_reports_nothing():
    body = '<iframe src="http://bad.example.com/x.html" width="0" height="0"></iframe>'
    assert frames_found(body, overrides={RULE: {"enabled": False}}) == []
    assert len(frames_found(body, overrides={RULE: {"threshold": {"max_size_px": 0}}})) == 1
    assert frames_found('<iframe src="http://bad.example.com/x" width="1"></iframe>',
                        overrides={RULE: {"threshold": {"max_size_px": 0}}}) == []
