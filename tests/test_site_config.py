"""Columns, freshness and mandated disclosures as a site config (TOML) shapes them, through real scans.

Each test writes a site config to tmp_path and runs ``sitewatch scan --config`` (``sitewatch.cli.main``)
against a loopback site, then compares the verdicts with a scan under the default rules.
"""

import datetime as dt
import json

import pytest
from conftest import scan_site
from loopback import Answer, LoopbackSite, page

from sitewatch.cli import main
from sitewatch.store import Store

AS_OF = dt.date(2026, 11, 26)


def ago(days: int) -> dt.date:
    return AS_OF - dt.timedelta(days=days)


def column_routes(prefix: str, name: str, ages: list[int]) -> dict:
    """A TRS-style column page at ``/s/<prefix>/index.html`` with items ``ages`` days old, and their articles."""
    routes = {}
    rows = []
    for n, age in enumerate(ages):
        day = ago(age)
        href = f"./{day:%Y%m}/t{day:%Y%m%d}_{n + 1}.html"
        title = f"{name}信息{n + 1}"
        rows.append(f'<li><a href="{href}" title="{title}">{title}</a><span>{day.isoformat()}</span></li>')
        routes[f"/s/{prefix}/{href[2:]}"] = Answer(body=page(
            title, f"<h1>{title}</h1><p>发布日期：{day.isoformat()}</p>",
            head=f'<meta name="ArticleTitle" content="{title}"><meta name="PubDate" content="{day.isoformat()}">'))
    routes[f"/s/{prefix}/index.html"] = Answer(body=page(
        name, f'<ul class="list">{"".join(rows)}</ul>', head=f'<meta name="ColumnName" content="{name}">'))
    return routes


COLUMNS = [("gzdt", "工作动态", [30, 45]),          # dynamic: stale at 14 days, fresh at 60
           ("sqfc", "社区风采", [90, 120]),         # unrecognised name: not judged unless pinned
           ("tzgg", "通知公告", [200, 260]),        # notice: stale at 183 days either way
           ("jddt", "镇街动态", [6, 20])]           # dynamic: fresh either way


def site_routes() -> dict:
    nav = "".join(f'<a href="/s/{p}/index.html">{n}</a>' for p, n, _ in COLUMNS)
    routes = {"/s/": Answer(body=page("西区街道办事处", f'<div class="nav">{nav}</div>'))}
    for prefix, name, ages in COLUMNS:
        routes.update(column_routes(prefix, name, ages))
    return routes


def base_toml(start_url: str) -> str:
    return f"""[site]
name = "西区街道"
start_urls = ["{start_url}"]

[politeness]
rate = 0
concurrency = 8
timeout = 2
retries = 1
"""


OVERRIDES = """
[rules.overrides."column.stale".threshold]
dynamic_days = 60

[columns."社区风采"]
category = "dynamic"
unit = "社区办"
"""


def scan_with(config, db, out) -> dict:
    rc = main(["scan", "--config", str(config), "--db", str(db), "--as-of", AS_OF.isoformat(),
               "--json", str(out), "-q"])
    assert rc == 0
    return json.loads(out.read_text(encoding="utf-8"))


def column_verdicts(doc: dict) -> dict[str, dict]:
    return {f["column"]: f for f in doc["findings"] if f["rule"] in ("column.stale", "column.long_stale")}


def test_threshold_override_and_pinned_column_change_the_verdicts(tmp_path):
    db = tmp_path / "sw.db"
    defaults = tmp_path / "defaults.toml"
    tuned = tmp_path / "tuned.toml"
    with LoopbackSite(site_routes()) as site:
        defaults.write_text(base_toml(site.url("/s/")), encoding="utf-8")
        tuned.write_text(base_toml(site.url("/s/")).replace('name = "西区街道"', 'name = "西区街道"\nunit = "西区街道办事处"')
                         + OVERRIDES, encoding="utf-8")
        before = column_verdicts(scan_with(defaults, db, tmp_path / "defaults.json"))
        after = column_verdicts(scan_with(tuned, db, tmp_path / "tuned.json"))

    # default rules: 工作动态 is 30 days old (> 14), 通知公告 200 days (> 183); 社区风采 is not judged
    assert set(before) == {"工作动态", "通知公告"}
    assert before["工作动态"]["max_age_days"] == 14 and before["工作动态"]["last_update"] == ago(30).isoformat()
    assert "unit" not in before["工作动态"]
    # the config: dynamic window 60 days clears 工作动态; 社区风采 pinned to dynamic is judged (90 > 60)
    assert set(after) == {"社区风采", "通知公告"}
    sq = after["社区风采"]
    assert (sq["rule"], sq["category"], sq["max_age_days"], sq["last_update"]) == \
        ("column.stale", "dynamic", 60, ago(90).isoformat())
    assert sq["unit"] == "社区办" and sq["evidence"]["unit"] == "社区办"
    # the notice window is untouched by the dynamic override; its unit falls back to the site's
    assert after["通知公告"]["max_age_days"] == 183 == before["通知公告"]["max_age_days"]
    assert after["通知公告"]["unit"] == "西区街道办事处"
    # both scans are stored, each with its own config
    scans = Store(str(db)).scans()
    assert [s.status for s in scans] == ["completed", "completed"]


def test_pinned_dynamic_column_items_are_not_taken_as_disclosures(tmp_path):
    """A column pinned to ``dynamic`` is news: a 预算 item in it is not the budget (docs/rules.md)."""
    routes = {"/s/": Answer(body=page("西区街道办事处", '<a href="/s/sqfc/index.html">社区风采</a>'))}
    routes.update(column_routes("sqfc", "社区风采", [3]))
    day = ago(3)
    title = "2026年部门预算"
    routes["/s/sqfc/index.html"] = Answer(body=page("社区风采", f'<ul><li><a href="./{day:%Y%m}/t{day:%Y%m%d}_1.html">'
                                                   f'{title}</a><span>2026-03-20</span></li></ul>',
                                                   head='<meta name="ColumnName" content="社区风采">'))
    db = tmp_path / "sw.db"
    with LoopbackSite(routes) as site:
        plain = tmp_path / "plain.toml"
        pinned = tmp_path / "pinned.toml"
        plain.write_text(base_toml(site.url("/s/")), encoding="utf-8")
        pinned.write_text(base_toml(site.url("/s/")) + OVERRIDES, encoding="utf-8")
        docs = [scan_with(cfg, db, tmp_path / f"{cfg.stem}.json") for cfg in (plain, pinned)]

    def budget_missing(doc):
        return [f for f in doc["findings"] if f["rule"] == "disclosure.missing" and f.get("item") == "budget"]

    assert budget_missing(docs[0]) == []            # an unclassified column's item counts as the budget
    assert len(budget_missing(docs[1])) == 1        # pinned to news: it does not


BAD_CONFIGS = [
    pytest.param(("concurrency = 8", "concurrency = 0"), "concurrency", id="concurrency-0"),
    pytest.param("[scopee]\nprefixes = [\"/s/\"]\n", "scopee", id="unknown-section"),
    pytest.param("[scope]\nexcludes = [\"(unclosed\"]\n", "scope.excludes", id="bad-regex"),
    pytest.param("[crawl]\nmax_pages = \"many\"\n", "crawl.max_pages", id="wrong-type"),
    pytest.param("[rules.overrides.\"column.stael\".threshold]\ndynamic_days = 60\n", "column.stael",
                 id="unknown-rule-id"),
    pytest.param("[rules.overrides.\"column.stale\".threshold]\ndynamic_dayz = 60\n", "dynamic_dayz",
                 id="unknown-threshold"),
    pytest.param("[columns.\"社区风采\"]\ncategory = \"weekly\"\n", "columns.社区风采",
                 id="unknown-category"),
]


@pytest.mark.parametrize("snippet, key", BAD_CONFIGS)
def test_bad_config_value_exits_2_with_one_line_and_leaves_the_database_alone(tmp_path, capsys, snippet, key):
    db = tmp_path / "sw.db"
    with LoopbackSite(site_routes()) as site:
        scan_site(site.url("/s/"), str(db))              # an existing database with one completed scan
        before = [(s.id, s.status, s.finished_at) for s in Store(str(db)).scans(kind=None)]
        served = sum(site.requests.values())
        config = tmp_path / "bad.toml"
        text = base_toml(site.url("/s/"))
        text = text.replace(*snippet) if isinstance(snippet, tuple) else text + snippet
        config.write_text(text, encoding="utf-8")
        capsys.readouterr()
        rc = main(["scan", "--config", str(config), "--db", str(db), "--as-of", AS_OF.isoformat(), "-q"])
        out, err = capsys.readouterr()
        contacted = sum(site.requests.values()) - served
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(config) in lines[0] and key in lines[0], lines[0]
    assert out == ""
    assert [(s.id, s.status, s.finished_at) for s in Store(str(db)).scans(kind=None)] == before
    assert contacted == 0                                # nothing was crawled either
