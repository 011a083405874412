"""`sitewatch demo`: serve the simulated portal, scan three simulated months, check the verdicts, write outputs."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sitewatch.config import SiteConfig
from sitewatch.demo.build import build_portal
from sitewatch.demo.server import DemoServer, serve_portal
from sitewatch.lookback import run_lookback, write_lookback
from sitewatch.models import Finding
from sitewatch.reporting.write import write_report
from sitewatch.scan import ScanResult, findings_document, run_scan, write_json
from sitewatch.spotcheck import sample, write_spotcheck
from sitewatch.store import Store
from sitewatch.urls import normalize

DEMO_AS_OF = dt.date(2026, 11, 26)
MONTHS = (-2, -1, 0)       # simulated months scanned, oldest first; the last one is "this month"
ITEM_IDS = {"budget_sangong": "budget_three_public", "final_accounts_sangong": "final_accounts_three_public",
            "guide": "disclosure_guide", "interpretation": "policy_interpretation"}


def demo_config(server: DemoServer) -> SiteConfig:
    """Scan settings for the demo: the loopback portal is ours, so no rate limit; short timeout. No link cache: the
    demo plays months seconds apart, and a month's planted broken attachment was fine the month before."""
    return SiteConfig(name=server.expected.get("site_name", "西区办事处"), start_urls=[server.start_url],
                      prefixes=[server.expected.get("prefix", "/xqbsc/")], rate=0, concurrency=16,
                      timeout=float(server.expected.get("scan_timeout", 2)), retries=1,
                      default_unit="党政办", link_cache_days=0)


def scan_demo_month(store: Store, variant: int = 0, as_of: dt.date = DEMO_AS_OF) -> tuple[ScanResult, dict[str, Any]]:
    """Serve one simulated month, scan it into ``store``; returns the result and the filled manifest."""
    portal = build_portal(as_of=as_of, month_variant=variant)
    with serve_portal(portal) as server:
        day = dt.date.fromisoformat(str(server.expected["as_of"])) if "as_of" in server.expected else as_of
        result = run_scan(demo_config(server), store, as_of=day)
        return result, server.expected | {"_absolute": {p: server.absolute(p) for p in _paths(server.expected)}}


def _paths(expected: dict[str, Any]) -> list[str]:
    return [b["path_or_url"] for b in expected.get("broken", []) + expected.get("not_broken", [])]


def verify(expected: dict[str, Any], findings: list[Finding]) -> tuple[bool, list[str]]:
    """Compare a scan's findings with the portal's manifest of planted problems. Returns (all ok, lines)."""
    absolute = expected.get("_absolute", {})

    def url_of(path_or_url: str) -> str:
        return normalize(absolute.get(path_or_url, path_or_url)) or path_or_url

    lines: list[str] = []
    broken = {f.url for f in findings if f.rule == "link.broken"}
    planted = {url_of(b["path_or_url"]) for b in expected.get("broken", [])}
    must_not = {url_of(b["path_or_url"]) for b in expected.get("not_broken", [])}
    missed, extra, wrong = planted - broken, broken - planted, must_not & broken
    lines.append(f"broken links: {len(planted)} planted, {len(planted & broken)} reported, "
                 f"{len(extra)} reported but not planted; {len(must_not)} must-not-report cases, {len(wrong)} reported")
    lines += [f"  MISSED  {u}" for u in sorted(missed)] + [f"  EXTRA   {u}" for u in sorted(extra)]

    by_column: dict[str, set[str]] = {}
    for f in findings:
        if f.rule.startswith("column.") and f.extra.get("column"):
            by_column.setdefault(f.extra["column"], set()).add(f.rule.split(".", 1)[1])
    col_ok = col_total = 0
    for col in expected.get("columns", []):
        want = {"stale": {"stale"}, "long_stale": {"long_stale"}, "blank": {"blank"}}.get(col["expected"], set())
        got = by_column.get(col["name"], set())
        col_total += 1
        if got == want:
            col_ok += 1
        else:
            lines.append(f"  COLUMN  {col['name']}: expected {col['expected']}, found {sorted(got) or 'nothing'}")
    lines.append(f"columns: {col_ok} of {col_total} judged as planted")

    found_disc = {(f.extra.get("item"), f.extra.get("year"), f.rule.split(".", 1)[1])
                  for f in findings if f.rule.startswith("disclosure.")}
    disc_ok = disc_total = 0
    for d in expected.get("disclosures", []):
        item = ITEM_IDS.get(d["item"], d["item"])
        disc_total += 1
        problems = {(i, y, kind) for i, y, kind in found_disc if i == item and y == d["year"]}
        if item == "policy_interpretation":
            doc = d.get("document", "")
            problems = {p for p in problems if any(doc in str(f.extra.get("document", "")) or
                                                   doc in f.message for f in findings
                                                   if f.extra.get("item") == item and f.extra.get("year") == d["year"])}
        want_kind = {"missing": "missing", "late": "late"}.get(d["expected"])
        ok = any(k == want_kind for _, _, k in problems) if want_kind else not problems
        disc_ok += ok
        if not ok:
            lines.append(f"  DISCLOSURE {d['item']} {d['year']} {d.get('document', '')}: expected {d['expected']}, "
                         f"found {sorted(k for _, _, k in problems) or 'nothing'}")
    lines.append(f"mandated disclosures: {disc_ok} of {disc_total} judged as planted")
    page_ok, page_lines = _verify_page_checks(expected, findings, url_of)
    lines += page_lines
    homepage_stale = any(f.rule == "homepage.stale" for f in findings)
    if expected.get("homepage") in ("fresh", "stale") and homepage_stale != (expected["homepage"] == "stale"):
        lines.append(f"  HOMEPAGE expected {expected['homepage']}, found {'stale' if homepage_stale else 'fresh'}")
    all_ok = not (missed or extra or wrong) and col_ok == col_total and disc_ok == disc_total and page_ok and not any(
        line.startswith("  HOMEPAGE") for line in lines)
    return all_ok, lines


def _verify_page_checks(expected: dict[str, Any], findings: list[Finding], url_of: Callable[[str], str]
                        ) -> tuple[bool, list[str]]:
    """Compare page-level findings (interaction, service guides, security, identity) with ``page_checks``.

    Skipped while no finding of any of those rule ids exists (the checks are not wired into the scan).
    An entry expects ``found`` (a finding of its rule naming ``path`` or one of ``also_on`` as its URL or in
    found_on), ``not_found`` (a compliant page) or ``any`` (no verdict); a finding of a listed rule that names
    no page of any entry of its rule is extra.
    """
    entries = expected.get("page_checks") or []
    rules = {e["rule"] for e in entries} | set(expected.get("page_check_rules", []))
    present = [f for f in findings if f.rule in rules]
    if not entries:
        return True, []
    if not present:
        return True, [f"page checks: {len(entries)} expected verdicts, skipped (no findings of "
                      f"{', '.join(sorted(rules))} in this scan)"]
    base = str(expected.get("base_url") or "")

    def absolute(path: str) -> str:
        return url_of(base + path if base and path.startswith("/") and path not in expected.get("_absolute", {})
                      else path)

    def pages_of(f: Finding) -> set[str]:
        """The pages a finding names: its URL and its found_on (example pages of a site-wide finding)."""
        return {url_of(f.url)} | {url_of(u) for u in f.found_on}

    lines: list[str] = []
    ok = total = 0
    named: dict[str, set[str]] = {}
    for e in entries:
        targets = {absolute(e["path"])} | {absolute(p) for p in e.get("also_on", [])}
        named.setdefault(e["rule"], set()).update(targets)
        if e["expected"] == "any":
            continue
        total += 1
        hit = any(f.rule == e["rule"] and pages_of(f) & targets for f in present)
        if hit == (e["expected"] == "found"):
            ok += 1
        else:
            lines.append(f"  PAGE    {e['rule']} {e['path']}: expected {e['expected']}, "
                         f"{'reported' if hit else 'found nothing'}")
    extra = sorted({(f.rule, f.url) for f in present if not pages_of(f) & named.get(f.rule, set())})
    lines += [f"  PAGE    {rule} {url}: reported, but no page check names it" for rule, url in extra]
    lines.insert(0, f"page checks: {ok} of {total} judged as planted, {len(extra)} reported on pages not listed")
    return ok == total and not extra, lines


def show_month(server: DemoServer, variant: int, as_of: dt.date = DEMO_AS_OF) -> dict[str, Any]:
    """Serve another simulated month on the same ports (so URLs, and fingerprints, stay the same)."""
    server.portal = build_portal(as_of=as_of, month_variant=variant)
    server.expected = server._fill_manifest(server.portal.expected)
    server.reset()
    return server.expected | {"_absolute": {p: server.absolute(p) for p in _paths(server.expected)}}


def run_demo(out: Path, db: str | None = None, keep_serving: bool = False) -> int:
    """Scan the simulated months, verify the current one against its manifest, write JSON and every report."""
    out.mkdir(parents=True, exist_ok=True)
    db_path = Path(db) if db else out / "sitewatch.db"
    if db_path.exists():
        db_path.unlink()
    store = Store(db_path)
    t0 = time.monotonic()
    results: list[ScanResult] = []
    expected: dict[str, Any] = {}
    with serve_portal(build_portal(as_of=DEMO_AS_OF, month_variant=MONTHS[0])) as server:
        for variant in MONTHS:
            expected = show_month(server, variant)
            day = dt.date.fromisoformat(str(expected.get("as_of", DEMO_AS_OF)))
            result = run_scan(demo_config(server), store, as_of=day)
            results.append(result)
            print(f"sitewatch demo: simulated month {result.as_of:%Y-%m}: scan {result.scan_id}: "
                  f"{result.stats.pages} pages, {result.stats.checked} URLs checked, {len(result.findings)} findings "
                  f"({result.stats.seconds:.1f} s)")
        current = results[-1]
        ok, lines = verify(expected, current.findings)
        print("self-check against the planted problems of this month:")
        for line in lines:
            print("  " + line)
        reports = _reports(store, current, results[-2], out, server)
        json_path = out / "findings.json"         # after the look-back: its counts are the reports' (numbers)
        write_json(json_path, findings_document(store, current.scan_id))
        written = [json_path] + reports
        print(f"sitewatch demo: done in {time.monotonic() - t0:.1f} s; database {db_path}")
        for p in written:
            print(f"  {p}")
        if keep_serving:
            print(f"demo portal serving at {server.start_url} (Ctrl-C to stop)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0 if ok else 1


def _reports(store: Store, current: ScanResult, previous: ScanResult, out: Path, server: DemoServer) -> list[Path]:
    """整改报告 + 领导摘要 for this month, the 回头看 of last month (re-checked live), and a spot-check sample."""
    baseline = store.scan(previous.scan_id)
    assert baseline is not None
    lookback = run_lookback(store, baseline, as_of=current.as_of, timeout=2.0)
    paths = list(write_lookback(store, lookback, out))
    scan = store.scan(current.scan_id)
    assert scan is not None
    paths += write_report(store, scan, out)
    paths += write_spotcheck(store, scan, sample(store, scan, 20, 1), 1, out, 20, 20)
    return paths
