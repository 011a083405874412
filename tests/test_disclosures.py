"""Mandated disclosures: title variants, years, attachments, due dates, policy interpretations."""

import datetime as dt

import pytest

from sitewatch.models import ListItem
from sitewatch.packs import load_rules
from sitewatch.rules.columns import ColumnData, items_with_columns
from sitewatch.rules.disclosures import (
    LATE,
    MISSING,
    OK,
    assess_item,
    check_disclosures,
    core_title,
    document_numbers,
    extract_years,
    match_years,
    normalise_title,
    required_due,
)

RS = load_rules()
SITE = {"url": "https://www.example.gov.cn/xq/"}
D = dt.date


def li(title: str, date: dt.date | None = None, url: str | None = None, attachments=(), number=None) -> ListItem:
    return ListItem(title=title, url=url or f"https://www.example.gov.cn/xq/{abs(hash(title))}.html", date=date,
                    attachments=list(attachments), document_number=number)


def findings_for(items, as_of, site_cfg=SITE, ruleset=RS, column="财政预决算"):
    return check_disclosures([(i, column) for i in items], as_of, ruleset, site_cfg)


def by_item(findings):
    return {(f.extra["item"], f.extra["year"]): f for f in findings}


@pytest.mark.parametrize("raw", [
    "2026年部门预算及“三公”经费预算", '2026年部门预算及"三公"经费预算', "2026年部门预算及三公经费预算",
    "2026年部门预算及「三公」经费预算", "2026 年 部门预算及 ‘三公’ 经费预算", "２０２６年部门预算及＂三公＂经费预算",
])
def test_normalise_title_variants(raw):
    assert normalise_title(raw) == "2026年部门预算及三公经费预算"


@pytest.mark.parametrize("title, years", [
    ("2026年度部门预算", [2026]), ("2026年部门决算", [2026]), ("二〇二五年度政府信息公开工作年度报告", [2025]),
    ("港口镇政府信息公开指南(2024年)", [2024]), ("2026部门预算", [2026]), ("中西府规〔2024〕1号", []),
    ("P020260202549903987969", []), ("2025年预算执行情况和2026年预算草案", [2025, 2026]),
])
def test_extract_years(title, years):
    assert extract_years(title) == years


@pytest.mark.parametrize("title, expected", [
    ("2026年度部门预算", {"budget"}),
    ("西区办事处2026年部门预算及“三公”经费预算", {"budget", "budget_three_public"}),
    ("2026年部门预算和三公经费预算公开", {"budget", "budget_three_public"}),
    ("2026年部门预算（含“三公”经费）", {"budget", "budget_three_public"}),
    ("2026年「三公」经费预算", {"budget", "budget_three_public"}),
    ("2026年一般公共预算因公出国（境）费、公务接待费预算", {"budget", "budget_three_public"}),
    ("2025年度部门决算", {"final_accounts"}),
    ("2025年部门决算及“三公”经费决算", {"final_accounts", "final_accounts_three_public"}),
    ("2025年预算执行情况", set()),
    ("2024年1-2月公安局三公经费统计表", set()),
    ("平潭综合实验区2025年度政府信息公开工作年度报告", {"annual_report"}),
    ("2025年度政府网站工作年度报表", set()),
    ("2025年法治政府建设年度报告", set()),
    ("西区办事处政府信息公开指南", {"disclosure_guide"}),
])
def test_title_matches_items(title, expected):
    got = {i.id for i in RS.items if i.kind != "per_document" and match_years(i, title) is not None}
    assert got == expected


def test_year_is_bound_to_the_item():
    assert match_years(RS.item("budget"), "2026年部门预算及“三公”经费预算") == {2026}
    assert match_years(RS.item("final_accounts"), "2025年度部门决算（2026年9月公开）") == {2025}
    assert match_years(RS.item("budget"), "部门预算") == set()


AS_FEB = D(2026, 2, 15)


def test_as_of_mid_february():
    """2025 annual report overdue; 2026 budget not yet due; 2024 final accounts were due in 2025."""
    items = [li("2025年部门预算及“三公”经费预算", D(2025, 3, 20)),
             li("2024年度部门决算及“三公”经费决算", D(2025, 9, 1))]
    found = by_item(findings_for(items, AS_FEB))
    assert set(found) == {("annual_report", 2025), ("disclosure_guide", None)}
    f = found[("annual_report", 2025)]
    assert f.rule == "disclosure.missing"
    assert f.evidence["due"] == "2026-01-31" and f.evidence["found_url"] is None
    assert f.url == SITE["url"]
    assert "2025年度政府信息公开工作年度报告" in f.message and "2026-01-31" in f.message


def test_late_versus_ok_annual_report():
    late = by_item(findings_for([li("2025年度政府信息公开工作年度报告", D(2026, 2, 10))], AS_FEB))
    f = late[("annual_report", 2025)]
    assert f.rule == "disclosure.late"
    assert f.evidence["found_date"] == "2026-02-10" and f.evidence["due"] == "2026-01-31"
    assert "逾期 10 天" in f.message
    ok = by_item(findings_for([li("2025年度政府信息公开工作年度报告", D(2026, 1, 20))], AS_FEB))
    assert ("annual_report", 2025) not in ok


def test_item_for_another_year_does_not_count():
    items = [li("2024年度政府信息公开工作年度报告", D(2025, 1, 20))]
    f = by_item(findings_for(items, AS_FEB))[("annual_report", 2025)]
    assert f.rule == "disclosure.missing"


@pytest.mark.parametrize("item_id, as_of, year", [
    ("annual_report", D(2026, 1, 31), 2024), ("annual_report", D(2026, 2, 1), 2025),
    ("budget", D(2026, 3, 31), 2025), ("budget", D(2026, 4, 1), 2026),
    ("final_accounts", D(2026, 9, 30), 2024), ("final_accounts", D(2026, 10, 1), 2025),
])
def test_required_year_around_each_due_date(item_id, as_of, year):
    assert required_due(RS.item(item_id), as_of).year == year


def test_budget_around_its_due_date():
    item = RS.item("budget")
    before = assess_item(item, [], D(2026, 3, 31))
    assert before.year == 2025 and before.status == MISSING
    assert assess_item(item, [li("2026年部门预算", D(2026, 4, 3))], D(2026, 3, 31)).year == 2025
    after = assess_item(item, [li("2026年部门预算", D(2026, 4, 3))], D(2026, 4, 5))
    assert (after.status, after.year, after.due.due) == (LATE, 2026, D(2026, 3, 31))
    assert assess_item(item, [li("2026年部门预算", D(2026, 3, 31))], D(2026, 4, 5)).status == OK
    assert assess_item(item, [li("2026年部门预算")], D(2026, 4, 5)).status == OK


def test_final_accounts_due_september_of_the_following_year():
    item = RS.item("final_accounts")
    assert assess_item(item, [li("2025年度部门决算", D(2026, 8, 20))], D(2026, 10, 1)).status == OK
    late = assess_item(item, [li("2025年度部门决算", D(2026, 10, 8))], D(2026, 11, 26))
    assert late.status == LATE and late.due.due == D(2026, 9, 30)
    assert assess_item(item, [li("2024年度部门决算", D(2025, 8, 20))], D(2026, 11, 26)).status == MISSING


def test_approval_date_from_site_config():
    cfg = {**SITE, "approvals": {"budget": {"2026": D(2026, 2, 10)}}}
    item = RS.item("budget")
    a = assess_item(item, [], D(2026, 3, 5), cfg["approvals"])
    assert (a.status, a.year, a.due.due, a.due.basis) == (MISSING, 2026, D(2026, 3, 2), "approval")
    late = assess_item(item, [li("2026年部门预算", D(2026, 3, 10))], D(2026, 3, 20), {"budget": {2026: "2026-02-10"}})
    assert late.status == LATE
    f = by_item(findings_for([], D(2026, 3, 5), cfg))[("budget", 2026)]
    assert f.evidence["due"] == "2026-03-02" and f.evidence["due_basis"] == "approval"


def test_attachment_file_name_and_link_text():
    item = RS.item("budget")
    by_name = li("部门预算公开", D(2026, 2, 2), attachments=[
        ("下载", "https://www.example.gov.cn/xq/P0/%E4%BA%8C%E9%99%84/2026%E5%B9%B4%E5%BA%A6%E9%83%A8%E9%97%A8%E9%A2%84%E7%AE%97.pdf")])
    a = assess_item(item, [by_name], D(2026, 4, 5))
    assert a.status == OK and a.found.url.endswith(".pdf") and a.found.date == D(2026, 2, 2)
    by_text = li("预决算公开", D(2026, 2, 2), attachments=[
        ("2026年度部门预算.pdf", "https://www.example.gov.cn/xq/P020260202549903987969.pdf")])
    a = assess_item(item, [by_text], D(2026, 4, 5))
    assert a.status == OK and a.found.url.endswith("P020260202549903987969.pdf")
    f = by_item(findings_for([by_text], D(2026, 4, 5)))
    assert ("budget", 2026) not in f


def test_three_public_missing_but_budget_found_asks_for_review():
    found = by_item(findings_for([li("2026年度部门预算", D(2026, 2, 2))], D(2026, 4, 5)))
    f = found[("budget_three_public", 2026)]
    assert f.rule == "disclosure.missing" and f.severity == "review"
    assert f.evidence["found_url"] and "请核实" in f.message
    assert ("budget", 2026) not in found


def test_guide_present_any_year():
    assert ("disclosure_guide", None) not in by_item(findings_for([li("政府信息公开指南(2021年)")], AS_FEB))


def test_finding_json_fields():
    f = by_item(findings_for([li("2025年度政府信息公开工作年度报告", D(2026, 2, 10))], AS_FEB))[("annual_report", 2025)]
    data = f.to_json()
    assert data["item"] == "annual_report" and data["year"] == 2025 and data["document"] is None
    assert {"due", "found_url", "found_date"} <= set(data["evidence"])


def test_item_override_disables_and_moves_due():
    rs = load_rules(overrides={"items": {"budget": {"enabled": False}, "annual_report": {"due": "02-20"}}})
    found = by_item(findings_for([], AS_FEB, ruleset=rs))
    assert ("budget", 2025) not in found and ("budget_three_public", 2025) in found
    assert ("annual_report", 2024) in found


# ---------------------------------------------------------------- policy interpretation

def test_document_numbers_and_core_title():
    (n,) = document_numbers("关于印发西区农村集体资产管理办法的通知（中西府规［2024］1号）")
    assert str(n) == "中西府规〔2024〕1号" and n.regulatory
    assert not document_numbers("中西府〔2024〕3号")[0].regulatory
    assert core_title("中山市西区办事处关于印发西区农村集体资产管理办法的通知（中西府规〔2024〕1号）") == "西区农村集体资产管理办法"
    assert core_title("关于印发《西区物业管理办法》的通知") == "西区物业管理办法"


DOC = li("中山市西区办事处关于印发西区农村集体资产管理办法的通知", D(2026, 5, 10),
         url="https://www.example.gov.cn/xq/zcwj/1.html", number="中西府规〔2026〕1号")
AS_NOV = D(2026, 11, 26)


def interp_findings(pairs, as_of=AS_NOV):
    return [f for f in check_disclosures(pairs, as_of, RS, SITE) if f.extra["item"] == "policy_interpretation"]


@pytest.mark.parametrize("title", [
    "《西区农村集体资产管理办法》政策解读", "图解：西区农村集体资产管理办法", "中西府规[2026]1号文件解读",
])
def test_interpretation_found_by_title_or_number(title):
    pairs = [(DOC, "规范性文件"), (li(title, D(2026, 5, 11)), "政策解读")]
    assert interp_findings(pairs) == []


def test_interpretation_missing():
    (f,) = interp_findings([(DOC, "规范性文件"), (li("《西区物业管理办法》解读", D(2026, 5, 11)), "政策解读")])
    assert f.rule == "disclosure.missing" and f.url == DOC.url
    assert f.extra == {"item": "policy_interpretation", "year": 2026, "document": "中西府规〔2026〕1号"}
    assert "西区农村集体资产管理办法" in f.message


def test_interpretation_late_and_not_yet_due():
    (f,) = interp_findings([(DOC, "规范性文件"), (li("《西区农村集体资产管理办法》解读", D(2026, 6, 30)), "政策解读")])
    assert f.rule == "disclosure.late" and f.evidence["found_date"] == "2026-06-30" and f.evidence["due"] == "2026-05-15"
    assert interp_findings([(DOC, "规范性文件")], as_of=D(2026, 5, 12)) == []


def test_regulatory_number_outside_policy_columns_and_attachment_interpretation():
    doc = li("关于印发西区养犬管理规定的通知（中西府规〔2025〕2号）", D(2025, 3, 1))
    (f,) = interp_findings([(doc, "通知公告")])
    assert f.extra["document"] == "中西府规〔2025〕2号"
    doc.attachments = [("政策解读.docx", "https://www.example.gov.cn/xq/jd.docx")]
    assert interp_findings([(doc, "通知公告")]) == []


def test_items_of_normative_column_need_interpretation_and_interpretations_are_not_documents():
    cols = [ColumnData("gfxwj", "规范性文件", "https://www.example.gov.cn/xq/gfxwj/", [
        li("关于印发《西区2026年防汛工作方案》的通知", D(2026, 4, 1)),
        li("《西区2026年防汛工作方案》解读", D(2026, 4, 1)),
        li("关于印发《西区垃圾分类实施方案》的通知", D(2026, 4, 2)),
    ])]
    (f,) = interp_findings(items_with_columns(cols))
    assert f.extra["document"] == "西区垃圾分类实施方案" and f.extra["year"] == 2026


def test_plain_policy_column_items_without_normative_number_need_no_interpretation():
    """解读 is mandated for 规范性文件 (规〔YYYY〕N号 or a 规范性文件 column), not for every item of 政策文件."""
    cols = [ColumnData("zcwj", "政策文件", "https://www.example.gov.cn/xq/zcwj/", [
        li("关于印发《西区垃圾分类实施方案》的通知", D(2026, 4, 2)),
        li("关于印发《西区加装电梯补助细则》的通知（西区办规〔2026〕3号）", D(2026, 5, 2)),
    ])]
    (f,) = interp_findings(items_with_columns(cols))
    assert f.extra["document"] == "西区办规〔2026〕3号" or "加装电梯" in f.extra["document"]


def test_news_items_are_not_disclosures():
    news = li("西区召开2026年部门预算编制工作会议", D(2026, 1, 5))
    assert ("budget", 2026) in by_item(findings_for([news], D(2026, 4, 5), column="工作动态"))
    assert ("budget", 2026) not in by_item(findings_for([news], D(2026, 4, 5), column="财政预决算"))
