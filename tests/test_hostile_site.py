"""A site whose pages carry hostile text (terminal escapes, C0 controls, bidi overrides, malformed hrefs): every
command that reads the scan afterwards — report, spotcheck, lookback, status — runs, and what it writes is inert.

Modelled on what was seen: a C0 character in a link text crashed ``report`` and ``spotcheck`` (XLSX), a malformed
``http://[x/`` href crashed ``lookback``, and ``status`` printed raw escape sequences to the terminal."""

from __future__ import annotations

import re
from pathlib import Path

from loopback import Answer, LoopbackSite, page
from openpyxl import load_workbook

from sitewatch.cli import main

ESC = "\x1b[31m"
EVIL = f"西区{ESC}新闻\x01\x0b\u202egnp.exe\x07"
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def hostile_site() -> dict[str, Answer]:
    links = (f'<a href="gone.html">{EVIL}</a> <a href="http://[x/">坏链接</a> <a href="http://[::1/">坏链接2</a> '
             f'<a href="a.html">{EVIL}正文</a> <a href="http://127.0.0.1:1/x">{EVIL}</a>')
    return {
        "/s/": Answer(body=page(EVIL, links, head=f'<meta name="SiteName" content="{EVIL}">')),
        "/s/a.html": Answer(body=page(f"文章{EVIL}", "<p>" + EVIL * 30 + "</p>")),
    }


def test_every_command_survives_hostile_text_and_writes_it_inert(tmp_path, capfd):
    db = str(tmp_path / "sw.db")
    with LoopbackSite(hostile_site()) as site:
        code = main(["scan", site.url("/s/"), "--db", db, "--as-of", "2026-11-26", "--rate", "0", "--quiet",
                     "--timeout", "2", "--json", str(tmp_path / "f.json")])
        assert code == 0
        out = tmp_path / "out"
        assert main(["report", "--db", db, "--out", str(out)]) == 0
        assert main(["spotcheck", "--db", db, "--out", str(out), "--sample", "10", "--seed", "1"]) == 0
        assert main(["lookback", "--db", db, "--out", str(out), "--since", "1", "--timeout", "2"]) == 0
        assert main(["status", "--db", db]) == 0
    printed = capfd.readouterr()
    for stream in (printed.out, printed.err):
        assert "\x1b" not in stream and "\u202e" not in stream and "\x07" not in stream
    for path in out.iterdir():
        if path.suffix in (".html", ".csv"):
            text = path.read_text(encoding="utf-8-sig")
            assert "\x1b" not in text and "\x01" not in text, path.name
        elif path.suffix == ".xlsx":
            for ws in load_workbook(path).worksheets:
                for row in ws.iter_rows(values_only=True):
                    for v in row:
                        assert not (isinstance(v, str) and UNSAFE.search(v)), (path.name, v)
    doc = (tmp_path / "f.json").read_text(encoding="utf-8")
    assert '"invalid_url"' in doc or "malformed" in doc       # the bad hrefs are findings, not crashes


def test_status_of_a_hostile_site_name_is_inert(tmp_path, capfd):
    db = str(tmp_path / "sw.db")
    cfg = tmp_path / "site.toml"
    with LoopbackSite(hostile_site()) as site:
        cfg.write_text(f'[site]\nname = "西区\\u001b[2J办事处\\u202e"\nstart_urls = ["{site.url("/s/")}"]\n',
                       encoding="utf-8")
        main(["scan", "--config", str(cfg), "--db", db, "--rate", "0", "--quiet", "--timeout", "2"])
        assert main(["status", "--db", db]) == 0
    printed = capfd.readouterr()
    assert "\x1b" not in printed.out + printed.err and "\\x1b[2J" in printed.out
    assert Path(db).exists()
