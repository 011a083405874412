"""Open every HTML report in headless Chromium: it renders (screenshot), shows its headings, logs no errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from loopback import Answer, LoopbackSite, page
from test_reports import EVIL, build_store

from sitewatch.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "reports"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]
HEADINGS = {
    "整改报告": ["一、总体情况", "二、问题清单", "三、必公开事项核对表", "四、回头看", "五、预警"],
    "领导摘要": ["单项否决指标", "近 3 次监测趋势", "需优先整改的问题", "与上期相比"],
    "回头看": ["一、复核情况", "二、复核明细", "三、下一步工作"],
    "抽查表": ["人工抽查表"],
}

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it with apt)")


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> list[Path]:
    tmp = tmp_path_factory.mktemp("browser")
    db = str(tmp / "sw.db")
    _, ids = build_store(db)
    out = tmp / "out"
    assert main(["report", "--db", db, "--out", str(out)]) == 0
    assert main(["spotcheck", "--sample", "8", "--seed", "1", "--db", db, "--out", str(out)]) == 0
    with LoopbackSite({"/ok.html": Answer(200, page("正常", "<p>" + "内容" * 100 + "</p>"))}) as site:
        from sitewatch.models import Finding
        from sitewatch.store import Store
        store = Store(db)
        findings = store.findings(ids[2])
        findings.append(Finding("link.broken", "deduct", site.url("/ok.html"), "链接无法访问", found_on=[site.url("/")],
                                extra={"link_text": EVIL}))
        store.save_findings(ids[2], findings)
        assert main(["lookback", "--since", str(ids[2]), "--db", db, "--out", str(out), "--as-of", "2026-12-05",
                     "--timeout", "2"]) == 0
    return sorted(out.glob("*.html"))


def run_chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120)


def test_every_report_renders_without_errors(reports, tmp_path):
    assert {p.name.split("-")[0] for p in reports} == set(HEADINGS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for html in reports:
        shot = ARTIFACTS / (html.stem + ".png")
        shot.unlink(missing_ok=True)
        res = run_chromium(["--enable-logging=stderr", "--v=0", f"--screenshot={shot}", "--window-size=1240,1754",
                            html.as_uri()], tmp_path / "profile-shot")
        assert shot.is_file() and shot.stat().st_size > 20_000, (html.name, res.stderr[-2000:])
        assert "Uncaught" not in res.stderr and "ERROR:CONSOLE" not in res.stderr, res.stderr[-2000:]
        assert not re.search(r"CONSOLE\(\d+\).*(error|Error)", res.stderr), res.stderr[-2000:]
        dom = run_chromium(["--dump-dom", html.as_uri()], tmp_path / "profile-dom").stdout
        for heading in HEADINGS[html.name.split("-")[0]]:
            assert heading in dom, (html.name, heading)
        assert "<script" not in dom                        # hostile text stayed text in the live DOM
        assert "alert(1)" in dom or html.name.startswith("领导摘要")
