"""`sitewatch user` and `sitewatch serve`: accounts from the command line (the password from a prompt or standard
input, never argv; every change in the audit log), one-line errors with exit code 2 for bad input, the console
refused on a network address without --allow-remote, and `serve` running: it answers, and its log never holds a
password."""

from __future__ import annotations

import io
import re
import sqlite3
import sys

import httpx
import pytest
from consolekit import PASSWORD, build, copy_db, start_serve, stop

from sitewatch.cli import main
from sitewatch.console import accounts
from sitewatch.console.audit import entries
from sitewatch.store import Store


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.mktemp("console-cli"))


@pytest.fixture
def db(built, tmp_path):
    return copy_db(built[0], tmp_path / "sw.db")


def run(args, capsys, monkeypatch, stdin: str | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, says):
    assert code == 2 and err.count("\n") == 1 and says in err, err


def test_user_add_list_passwd_disable_enable(db, capsys, monkeypatch):
    code, out, _ = run(["user", "add", "Zhang.San", "--role", "unit", "--unit", "党政办", "--db", db,
                        "--password-stdin"], capsys, monkeypatch, "Unit-password-1\n")
    assert code == 0 and "added zhang.san (unit, unit 党政办)" in out
    engine = Store(db).engine
    user = accounts.get_user(engine, "ZHANG.SAN")
    assert user.role == "unit" and user.unit == "党政办" and not user.disabled
    code, out, _ = run(["user", "list", "--db", db], capsys, monkeypatch)
    assert code == 0 and re.search(r"zhang\.san\s+unit\s+党政办\s+enabled", out)
    code, out, _ = run(["user", "passwd", "zhang.san", "--db", db, "--password-stdin"], capsys, monkeypatch,
                       "Unit-password-2\r\n")
    assert code == 0 and "its sessions ended" in out
    assert accounts.verify_password(accounts.password_hash(engine, user.id), "Unit-password-2")[0]
    assert run(["user", "disable", "zhang.san", "--db", db], capsys, monkeypatch)[0] == 0
    assert accounts.get_user(engine, "zhang.san").disabled
    assert run(["user", "enable", "zhang.san", "--db", db], capsys, monkeypatch)[0] == 0
    assert not accounts.get_user(engine, "zhang.san").disabled
    log = [e for e in reversed(entries(engine)) if e["target"] == "zhang.san"]
    assert [e["action"] for e in log] == ["user.add", "user.passwd", "user.disable", "user.enable"]
    assert all(e["actor"].startswith("cli:") for e in log)
    assert log[0]["detail"] == {"role": "unit", "unit": "党政办"}
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert "Unit-password-1" not in dump and "Unit-password-2" not in dump


@pytest.mark.parametrize("args, stdin, says", [
    (["add", "x1", "--role", "unit"], "Good-password-1\n", "role unit needs --unit"),
    (["add", "x1", "--role", "admin", "--unit", "党政办"], "Good-password-1\n", "--unit is for role unit only"),
    (["add", "x1", "--role", "boss"], "Good-password-1\n", "invalid choice: 'boss'"),
    (["add", "bad name", "--role", "admin"], "Good-password-1\n", "user name 'bad name'"),
    (["add", "admin", "--role", "admin"], "Good-password-1\n", "user 'admin' exists"),
    (["add", "x1", "--role", "admin"], "short\n", "password refused: at least 10 characters"),
    (["add", "x1", "--role", "admin"], "alllowercaseletters\n", "password refused: three of"),
    (["add", "someone", "--role", "admin"], "Someone-123456\n", "must not contain the user name"),
    (["add", "x1", "--role", "admin"], "\n", "standard input gave no password"),
    (["add", "x1", "--role", "admin", "--password", "Good-password-1"], None, "unrecognized arguments"),
    (["passwd", "nobody"], "Good-password-1\n", "no user 'nobody'"),
    (["disable", "nobody"], None, "no user 'nobody'"),
    ([], None, "give an action"),
])
def test_bad_input_is_one_line_and_exit_2(db, capsys, monkeypatch, args, stdin, says):
    before = "\n".join(sqlite3.connect(db).iterdump())
    extra = ["--password-stdin"] if stdin is not None and args and args[0] in ("add", "passwd") else []
    code, _, err = run(["user", *args, *(["--db", db] if args else []), *extra], capsys, monkeypatch, stdin)
    one_line_error(code, err, says)
    assert "\n".join(sqlite3.connect(db).iterdump()) == before


def test_no_password_prompt_without_a_terminal(db, capsys, monkeypatch):
    code, _, err = run(["user", "add", "x1", "--role", "admin", "--db", db], capsys, monkeypatch, "")
    one_line_error(code, err, "pipe it with --password-stdin")


def test_a_missing_database_is_refused(tmp_path, capsys, monkeypatch):
    for args in (["user", "list"], ["serve"]):
        code, _, err = run([*args, "--db", str(tmp_path / "none.db")], capsys, monkeypatch)
        one_line_error(code, err, "no database at")
    assert not (tmp_path / "none.db").exists()


def test_without_the_console_extra_serve_and_user_name_it(db, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)          # as if not installed
    for args in (["serve", "--db", db], ["user", "list", "--db", db]):
        code, _, err = run(args, capsys, monkeypatch)
        one_line_error(code, err, 'needs the console extra (uvicorn not installed): pip install "sitewatch[console]"')


@pytest.mark.parametrize("args, says", [
    (["--host", "0.0.0.0"], "not a loopback address"),
    (["--host", "192.0.2.1"], "--allow-remote"),
    (["--host", "0.0.0.0", "--allow-remote", "--plain-http"], "--plain-http is for loopback only"),
    (["--trusted-proxy", "proxy.example"], "is not an IP address or network"),
    (["--server-name", "http://x/"], "--server-name"),
    (["--port", "70000"], "expected 0 to 65535"),
    (["--idle-minutes", "0"], "expected 5 to 1440"),
])
def test_serve_refuses_unsafe_or_bad_settings(db, capsys, monkeypatch, args, says):
    code, _, err = run(["serve", "--db", db, *args], capsys, monkeypatch)
    one_line_error(code, err, says)


def test_serve_refuses_a_port_in_use(db, capsys, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        code, _, err = run(["serve", "--db", db, "--port", str(s.getsockname()[1])], capsys, monkeypatch)
    one_line_error(code, err, "cannot listen on 127.0.0.1:")


def test_serve_answers_on_loopback_and_never_logs_a_password(db):
    proc, url = start_serve(db)
    try:
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, timeout=10) as c:
            r = c.get("/")
            assert r.status_code == 303 and r.headers["location"] == "/login"
            r = c.get("/login")
            assert r.status_code == 200 and "server" not in r.headers
            token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
            # Secure cookies over plain HTTP on loopback: browsers keep them there (tests/test_console_browser.py);
            # httpx does not, so the sign-in cookie is sent by hand here
            cookie = {"cookie": f"__Host-sitewatch-login={token}"}
            for password in ("Wrong-password-9", PASSWORD):
                r = c.post("/login", data={"csrf": token, "username": "admin", "password": password}, headers=cookie)
            assert r.status_code == 303 and "__Host-sitewatch=" in r.headers["set-cookie"]
            session = re.search(r"__Host-sitewatch=([^;]+)", r.headers["set-cookie"]).group(1)
            r = c.get("/", headers={"cookie": f"__Host-sitewatch={session}"})
            assert r.status_code == 200 and "网站监测总览" in r.text
            assert c.get("/login", headers={"host": "rebound.example"}).status_code == 400
    finally:
        out, err = stop(proc)
    assert '"POST /login HTTP/1.1" 303' in out and "console stopped" in out     # uvicorn's access log
    for secret in (PASSWORD, "Wrong-password-9"):
        assert secret not in out and secret not in err
    assert session not in out and session not in err


def test_serve_read_only_needs_no_sign_in(db):
    proc, url = start_serve(db, "--read-only")
    try:
        r = httpx.get(url, timeout=10)
        assert r.status_code == 200 and "只读模式" in r.text
        assert httpx.post(url + "logout", timeout=10).status_code == 403
    finally:
        stop(proc)
