"""Column classification, freshness windows, blank columns, veto aggregates and the veto summary."""

import datetime as dt

import pytest

from sitewatch.errors import ConfigError
from sitewatch.models import ListItem
from sitewatch.packs import load_rules
from sitewatch.rules.columns import (
    ColumnData,
    check_columns,
    check_homepage,
    classify,
    normalise_name,
    veto_band,
    veto_summary,
)

AS_OF = dt.date(2026, 11, 26)
RS = load_rules()


def item(days_ago: int | None, title: str = "信息", pinned: bool = False) -> ListItem:
    date = None if days_ago is None else AS_OF - dt.timedelta(days=days_ago)
    return ListItem(title=title, url=f"https://www.example.gov.cn/a/{title}{days_ago}.html", date=date, pinned=pinned)


def column(name: str, *ages: int | None, key: str | None = None, **kw) -> ColumnData:
    key = key or name
    return ColumnData(key=key, name=name, url=f"https://www.example.gov.cn/{key}/", items=[item(a) for a in ages], **kw)


@pytest.mark.parametrize("name, category", [
    ("工作动态", "dynamic"), ("镇街要闻", "dynamic"), ("图片新闻", "dynamic"), ("政务活动", "dynamic"),
    ("通知公告", "notice"), ("公示公告", "notice"), ("政策文件", "notice"), ("规范性文件", "notice"),
    ("人事信息", "yearly"), ("规划计划", "yearly"), ("人事任免公告", "yearly"),
    ("领导之窗", None), ("机构职能", None), ("历史专题回顾", None), ("", None),
])
def test_classify(name, category):
    assert classify(name, RS) == category


def test_classify_normalises_whitespace_and_full_width():
    assert normalise_name(" 工作\u3000动态 ") == "工作动态"
    assert normalise_name("ＡＢＣ要闻") == "ABC要闻"
    assert classify(" 工 作 动 态 ", RS) == "dynamic"
    assert classify("【通知公告】", RS) == "notice"


def test_pinned_name_wins_and_is_validated():
    assert classify("领导之窗", RS, {"领导之窗": "yearly"}) == "yearly"
    assert classify("工作动态", RS, {" 工作动态": "notice"}) == "notice"
    assert classify("工作动态", RS, {"工作动态": "exempt"}) is None
    with pytest.raises(ConfigError, match="columns.工作动态"):
        classify("工作动态", RS, {"工作动态": "weekly"})


def test_classify_follows_keyword_override():
    rs = load_rules(overrides={"column.stale": {"keywords": {"dynamic": ["街道快讯"]}}})
    assert classify("街道快讯", rs) == "dynamic"
    assert classify("工作动态", rs) is None


@pytest.mark.parametrize("name, window", [("工作动态", 14), ("通知公告", 183), ("人事信息", 365)])
def test_each_category_window(name, window):
    fresh = check_columns([column(name, window)], AS_OF, RS)
    stale = check_columns([column(name, window + 1)], AS_OF, RS)
    assert fresh == []
    assert len(stale) == 1
    f = stale[0]
    assert f.rule == ("column.long_stale" if window == 365 else "column.stale")
    assert f.extra["max_age_days"] == window
    assert f.extra["last_update"] == (AS_OF - dt.timedelta(days=window + 1)).isoformat()
    assert f.url == f"https://www.example.gov.cn/{name}/"
    assert f.severity == RS.severity(f.rule)


def test_stale_message_states_value_and_threshold():
    col = ColumnData("gzdt", "工作动态", "https://www.example.gov.cn/gzdt/",
                     [ListItem("x", "https://www.example.gov.cn/gzdt/1.html", dt.date(2026, 10, 2))])
    (f,) = check_columns([col], AS_OF, RS)
    assert f.message.startswith("栏目“工作动态”最近更新 2026-10-02，超过 14 天未更新")
    assert "监测日 2026-11-26" in f.message
    assert f.to_json()["column"] == "工作动态" and f.to_json()["category"] == "dynamic"


def test_unknown_column_is_not_judged_for_freshness():
    assert check_columns([column("领导之窗", 900)], AS_OF, RS) == []


def test_undated_items_count_as_not_updated():
    (f,) = check_columns([column("工作动态", None, None)], AS_OF, RS)
    assert f.rule == "column.stale" and f.extra["last_update"] is None
    assert f.evidence["undated_items"] == 2
    assert "未注明发布日期" in f.message
    (h,) = check_homepage("https://www.example.gov.cn/", [item(None)], AS_OF, RS)
    assert h.rule == "homepage.stale" and h.extra["last_update"] is None


def test_newest_date_over_all_items_with_pinned_rows_out_of_order():
    col = ColumnData("gzdt", "工作动态", "https://www.example.gov.cn/gzdt/", [
        item(400, "置顶", pinned=True), item(30), item(3), item(None)])
    assert check_columns([col], AS_OF, RS) == []
    col.items = [item(3, "置顶", pinned=True), item(400), item(30)]
    assert check_columns([col], AS_OF, RS) == []
    col.items = [item(20, "置顶", pinned=True), item(400), item(30)]
    (f,) = check_columns([col], AS_OF, RS)
    assert f.extra["last_update"] == (AS_OF - dt.timedelta(days=20)).isoformat()


@pytest.mark.parametrize("col, reason", [
    (column("通知公告"), "没有任何信息条目"),
    (column("通知公告", 1, empty_marker=True), "暂无信息"),
    (column("领导之窗"), "没有任何信息条目"),
])
def test_blank_column(col, reason):
    (f,) = check_columns([col], AS_OF, RS)
    assert f.rule == "column.blank" and f.extra == {"column": col.name} and reason in f.message


def test_category_from_column_data_wins():
    col = column("领导之窗", 20, category="dynamic")
    (f,) = check_columns([col], AS_OF, RS)
    assert f.extra["category"] == "dynamic"
    assert check_columns([column("工作动态", 20)], AS_OF, RS, pinned={"工作动态": "notice"}) == []


def test_threshold_override():
    rs = load_rules(overrides={"column.stale": {"threshold": {"dynamic_days": 21}}})
    assert check_columns([column("工作动态", 20)], AS_OF, rs) == []
    (f,) = check_columns([column("工作动态", 22)], AS_OF, rs)
    assert f.extra["max_age_days"] == 21


def test_disabled_rule_gives_no_findings():
    rs = load_rules(overrides={"column.blank": {"enabled": False}})
    assert check_columns([column("通知公告")], AS_OF, rs) == []


def stale_columns(n: int) -> list[ColumnData]:
    return [column(f"工作动态{i}", 30, key=f"dt{i}") for i in range(n)]


def long_stale_columns(n: int) -> list[ColumnData]:
    return [column(f"人事信息{i}", 400, key=f"rs{i}") for i in range(n)]


def blank_columns(n: int) -> list[ColumnData]:
    return [column(f"通知公告{i}", key=f"gg{i}") for i in range(n)]


@pytest.mark.parametrize("veto_id, make, threshold", [
    ("veto.columns_stale", stale_columns, 5),
    ("veto.columns_long_stale", long_stale_columns, 10),
    ("veto.columns_blank", blank_columns, 5),
])
def test_aggregate_at_and_just_below_threshold(veto_id, make, threshold):
    below = check_columns(make(threshold - 1), AS_OF, RS)
    assert not [f for f in below if f.rule == veto_id]
    at = check_columns(make(threshold), AS_OF, RS, site_url="https://www.example.gov.cn/xq/")
    (veto,) = [f for f in at if f.rule == veto_id]
    assert veto.severity == "veto"
    assert veto.url == "https://www.example.gov.cn/xq/"
    assert veto.evidence["count"] == threshold and veto.evidence["threshold"] == threshold
    assert len(veto.evidence["columns"]) == threshold
    assert f"{threshold} 个栏目" in veto.message
    summary = {s["rule"]: s for s in veto_summary(at, RS)}
    assert summary[veto_id]["band"] == "否决" and summary[veto_id]["measured"] == threshold
    assert {s["rule"]: s for s in veto_summary(below, RS)}[veto_id]["band"] == "风险"


def test_stale_notice_and_dynamic_columns_count_together():
    cols = stale_columns(3) + [column(f"通知公告{i}", 200, key=f"n{i}") for i in range(2)]
    assert any(f.rule == "veto.columns_stale" for f in check_columns(cols, AS_OF, RS))


def test_blank_column_is_not_also_stale():
    findings = check_columns(blank_columns(5), AS_OF, RS)
    assert {f.rule for f in findings} == {"column.blank", "veto.columns_blank"}


def test_aggregate_default_url_is_the_site_root():
    veto = [f for f in check_columns(blank_columns(5), AS_OF, RS) if f.rule == "veto.columns_blank"][0]
    assert veto.url == "https://www.example.gov.cn/"


@pytest.mark.parametrize("measured, threshold, expected", [
    (0, 5, "合格"), (2, 5, "合格"), (3, 5, "风险"), (4, 5, "风险"), (5, 5, "否决"), (6, 5, "否决"),
    (5, 10, "合格"), (6, 10, "风险"), (9, 10, "风险"), (10, 10, "否决"), (0, 1, "合格"), (1, 1, "否决"),
])
def test_verdict_bands(measured, threshold, expected):
    assert veto_band(measured, threshold) == expected


def test_veto_summary_includes_homepage():
    findings = check_homepage("https://www.example.gov.cn/", [item(20)], AS_OF, RS)
    summary = {s["rule"]: s for s in veto_summary(findings, RS)}
    assert summary["homepage.stale"]["band"] == "否决"
    assert summary["homepage.stale"]["measured"] == 20 and summary["homepage.stale"]["threshold"] == 14
    assert summary["veto.columns_stale"]["band"] == "合格"
    assert {s["rule"]: s for s in veto_summary([], RS)}["homepage.stale"]["band"] == "合格"


def test_homepage_window():
    assert check_homepage("https://www.example.gov.cn/", [item(14), item(None)], AS_OF, RS) == []
    (f,) = check_homepage("https://www.example.gov.cn/", [item(15)], AS_OF, RS)
    assert f.extra == {"last_update": (AS_OF - dt.timedelta(days=15)).isoformat(), "max_age_days": 14}
    assert "超过 14 天未更新" in f.message


def test_per_column_window_from_site_config():
    assert check_columns([column("工作动态", 20, max_age_days=30)], AS_OF, RS) == []
    (f,) = check_columns([column("领导之窗", 40, max_age_days=30)], AS_OF, RS)
    assert f.rule == "column.stale" and f.extra["max_age_days"] == 30 and f.extra["category"] is None


def test_pin_to_none_is_never_judged():
    assert classify("工作动态", RS, {"工作动态": "none"}) is None
    assert check_columns([column("工作动态", 90)], AS_OF, RS, pinned={"工作动态": "none"}) == []
