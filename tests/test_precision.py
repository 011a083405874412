"""Precision on real page shapes: each false finding seen on real portals, with its must-report twin.

The pages imitate the shape of real portal pages (TRS/Fujian article pages: meta tags, the column name as the
<title>, the article title in a div, a 当前位置 breadcrumb, a body of 详见附件。 and one attachment; a 信息公开
指南 column page; nginx and CMS error pages; procurement notices), written here by hand.
"""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import scan_site
from loopback import Answer, LoopbackSite, page
from sitewatch.crawl.fetch import FetchResult
from sitewatch.crawl.verdict import BROKEN, OK, judge
from sitewatch.extract import parse_html

SITE_ID = "4420000045"


def trs_article(title: str, *, column: str = "工作动态", crumbs: tuple[str, ...] = ("首页", "政务公开"),
                body: str = "<p>详见附件。</p>", attachment: str | None = None, pub: str = "2026-11-20 09:30",
                docno: str | None = None, title_tag: str = "column") -> str:
    """A TRS/Fujian article page: <title> is the column name (``title_tag="article"``: the article title and the
    site, as on 洪山区's TRS site), the article title sits in div.article_title."""
    head_title = f"\n\t\t{column}_\n\t\t中山市西区办事处\n\t" if title_tag == "column" else f"{title} - 中山市西区办事处门户网站"
    trail = "".join(f'<li><a href="../" title="{c}">{c}</a></li>' for c in (*crumbs, column))
    att = f'<ul class="fj"><li><a href="./P020261120549903987969.pdf">{attachment}</a></li></ul>' if attachment else ""
    meta_docno = (f'<div class="xxgk_info"><span>文　号：</span><span>{docno}</span></div>' if docno else "")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f'<meta name="SiteName" content="中山市西区办事处"/><meta name="SiteDomain" content="www.zs.gov.cn"/>'
        f'<meta name="SiteIDCode" content="{SITE_ID}"/><meta name="ColumnName" content="{column}"/>'
        f'<meta name="ArticleTitle" content="{title}"/><meta name="PubDate" content="{pub}"/>'
        f'<meta name="ContentSource" content="西区办事处"/>'
        f"<title>{head_title}</title></head><body>"
        '<div class="header"><ul class="nav"><li><a href="/s/">首页</a></li></ul></div>'
        '<div class="breadcrumb" role="navigation" des="当前位置"><span>当前位置：</span>'
        f"<ul>{trail}</ul></div>"
        f'<div class="article_component"><div class="article_title text_align_center">{title}</div>'
        f'<div class="article_attr"><span>发布时间：{pub}</span>{meta_docno}</div>'
        f'<div class="article_area"><div class="TRS_Editor">{body}</div></div>{att}</div>'
        '<div class="footer"><p>主办单位：中山市西区办事处 网站标识码：' + SITE_ID + "</p></div>"
        "</body></html>")


def verdict_of(html: str, url: str = "http://127.0.0.1/s/t.html"):
    parsed = parse_html(html, url)
    return judge(FetchResult(url=url, status=200, final_url=url, content_type="text/html", body=html.encode()),
                 title=parsed.title, text_len=parsed.text_len, text_sample=parsed.text_sample,
                 refresh=parsed.refresh)


# ---------------------------------------------------------------- soft 404: phrases, never a number

NUMBERED_ARTICLES = {
    "/s/jb/t20261120_404.html": trs_article("西区街道工作简报（第404期）", column="工作简报", title_tag="article"),
    "/s/tz/t20240404_404123.html": trs_article("关于西区2024040401号议案办理情况的通报", column="通知公告", title_tag="article"),
    "/s/gb/404.html": trs_article("404路公交线路调整公告", column="公示公告", title_tag="article"),
}
ERROR_PAGES = {
    "/s/gone1.html": "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center>"
                     "<hr><center>nginx</center></body></html>",
    "/s/gone2.html": page("页面不存在", '<div class="error"><p>抱歉，您访问的页面不存在或已被删除！</p>'
                                       '<a href="/">返回首页</a></div>'),
    "/s/gone3.html": page("中山市西区办事处", "<div class='err'><h2>HTTP 404 错误</h2><p>请检查网址是否正确。</p></div>"),
    "/s/gone4.html": page("404", "<div><img src='/images/404.png'><p>返回首页</p></div>"),
}


@pytest.mark.parametrize("path", sorted(NUMBERED_ARTICLES))
def test_a_number_containing_404_is_not_a_soft_404(path):
    assert verdict_of(NUMBERED_ARTICLES[path]).verdict == OK


@pytest.mark.parametrize("path", sorted(ERROR_PAGES))
def test_error_phrases_stay_soft_404s(path):
    v = verdict_of(ERROR_PAGES[path])
    assert (v.verdict, v.reason) == (BROKEN, "soft404")


def test_soft_404_through_a_scan(db):
    links = "".join(f'<a href="{p}">{p}</a>' for p in (*NUMBERED_ARTICLES, *ERROR_PAGES))
    routes = {"/s/": Answer(body=page("首页", links))}
    routes.update({p: Answer(body=html) for p, html in {**NUMBERED_ARTICLES, **ERROR_PAGES}.items()})
    with LoopbackSite(routes) as site:
        result, _ = scan_site(site.url("/s/"), db)
    broken = {f.url: f for f in result.findings if f.rule == "link.broken"}
    assert set(broken) == {site.url(p) for p in ERROR_PAGES}
    assert all(f.evidence.get("error") == "soft404" for f in broken.values())
