"""The console's sign-in, sessions and request checks: every route refused without signing in, wrong passwords
refused and throttled (per user name and per client address, counted lock-outs), the session token rotated at
sign-in (no fixation), logout and expiry ending the session server-side, CSRF refused, cookies' attributes, the
security headers, forwarded headers believed from the trusted proxy only, passwords never stored or logged."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3

import pytest
from consolekit import (
    PASSWORD,
    Clock,
    app_for,
    build,
    client,
    copy_db,
    csrf_of,
    page_csrf,
    routes,
    session_cookie,
    sign_in,
    signed_in,
)
from sqlalchemy import select

from sitewatch.console import accounts
from sitewatch.console.audit import Actor, entries
from sitewatch.console.auth import Policy, digest, safe_next
from sitewatch.store import AuditRow, SessionRow, Store


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.mktemp("console-auth"))


@pytest.fixture
def db(built, tmp_path):
    return copy_db(built[0], tmp_path / "sw.db")


def actions(db) -> list[str]:
    return [r["action"] for r in reversed(entries(Store(db).engine, 1000))]


def test_every_route_says_what_it_requires(db):
    app = app_for(db)
    seen = list(routes(app))
    assert len(seen) >= 8
    for method, path, access in seen:
        assert access.kind == ("view" if method == "GET" else "action"), (method, path)
    public = {(m, p) for m, p, a in seen if a.public}
    assert public == {("GET", "/login"), ("POST", "/login"), ("GET", "/static/look.css")}


def test_every_route_is_refused_without_signing_in(db):
    app = app_for(db)
    c = client(app)
    for method, path, access in routes(app):
        if access.public:
            continue
        if method == "GET":
            r = c.get(path)
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), (path, r.status_code)
        else:
            r = c.post(path, data={"csrf": "x"})
            assert r.status_code == 403, (path, r.status_code)
    r = c.get("/audit?x=1")
    assert r.headers["location"] == "/login?next=/audit%3Fx%3D1"
    assert c.get("/").headers["location"] == "/login"
    assert c.get("/no-such-page").status_code == 404


def test_sign_in_and_its_audit_row(db):
    app = app_for(db)
    c = client(app)
    r = sign_in(c, "Admin", next="/audit")           # names are not case-sensitive
    assert r.status_code == 303 and r.headers["location"] == "/audit"
    assert c.get("/audit").status_code == 200
    assert actions(db)[-1] == "login.ok"
    assert accounts.get_user(Store(db).engine, "admin").last_login_at is not None


def test_a_wrong_password_is_refused_and_the_name_is_locked_after_the_limit(db):
    clock = Clock()
    app = app_for(db, clock=clock, policy=Policy(user_failures=3, lockout=dt.timedelta(minutes=15)))
    c = client(app)
    for _ in range(3):
        r = sign_in(c, "admin", "Wrong-password-1")
        assert r.status_code == 401 and "用户名或密码错误" in r.text and session_cookie(c) is None
    r = sign_in(c, "admin")                          # the right password, but the name is locked
    assert r.status_code == 429 and "登录失败次数过多" in r.text and session_cookie(c) is None
    assert 0 < int(r.headers["retry-after"]) <= 15 * 60
    assert sign_in(client(app), "leader").status_code == 303          # another name is not locked
    log = actions(db)
    assert log.count("login.failed") == 4 and log.count("login.locked") == 1
    clock.advance(minutes=16)
    assert sign_in(c, "admin").status_code == 303                      # the lock ended
    with Store(db).engine.connect() as conn:
        locked = conn.execute(select(AuditRow).where(AuditRow.c.action == "login.locked")).one()
    assert locked.target == "admin" and locked.detail == {"minutes": 15, "failures": 3, "lockouts": 1}


def test_failures_are_counted_per_client_address(db):
    clock = Clock()
    app = app_for(db, clock=clock, policy=Policy(user_failures=100, address_failures=4))
    c = client(app, client=("192.0.2.7", 40000))
    for name in ("a1", "a2", "admin", "leader"):          # password spraying over several names
        assert sign_in(c, name, "Wrong-password-1").status_code == 401
    assert sign_in(c, "assessor").status_code == 429              # the address is locked
    assert sign_in(client(app, client=("192.0.2.8", 40000)), "assessor").status_code == 303
    clock.advance(minutes=16)
    assert sign_in(c, "assessor").status_code == 303


def test_a_lock_counts_its_lock_outs_and_a_success_does_not_reset_the_address(db):
    clock = Clock()
    app = app_for(db, clock=clock, policy=Policy(user_failures=2, address_failures=5))
    c = client(app)
    for _ in range(2):
        sign_in(c, "leader", "Wrong-password-1")
    clock.advance(minutes=16)
    for _ in range(2):
        sign_in(c, "leader", "Wrong-password-1")
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("select kind, lockouts from login_throttle").fetchall())
    assert rows == {"user": 2, "address": 0}            # counted across the windows
    assert [e["detail"]["lockouts"] for e in entries(Store(db).engine) if e["action"] == "login.locked"] == [2, 1]
    assert sign_in(c, "admin").status_code == 303                  # address at 4 of 5 failures
    assert sign_in(client(app), "leader", "Wrong-password-1").status_code == 429   # leader is locked


def test_a_mistyped_password_in_the_name_field_is_never_stored(db, caplog):
    caplog.set_level(logging.DEBUG)
    app = app_for(db)
    secret = "Typed-In-Name-Field-77"
    assert sign_in(client(app), secret, "whatever").status_code == 401
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert secret not in dump and secret.lower() not in dump
    assert secret not in caplog.text and secret.lower() not in caplog.text
    failed = [r for r in entries(Store(db).engine) if r["action"] == "login.failed"][0]
    assert failed["target"] == "（未知用户名）" and failed["detail"] == {"reason": "unknown user"}


def test_passwords_are_never_stored_or_logged_in_clear(db, caplog):
    caplog.set_level(logging.DEBUG)
    app = app_for(db)
    c = signed_in(app, "unit-a")
    sign_in(client(app), "unit-a", "Wrong-guess-123")
    new = "Another-Secret-99"
    r = c.post("/account/password", data={"csrf": page_csrf(c), "current": PASSWORD, "new": new, "confirm": new})
    assert r.status_code == 200 and "密码已修改" in r.text
    dump = "\n".join(sqlite3.connect(db).iterdump())
    for password in (PASSWORD, new, "Wrong-guess-123"):
        assert password not in dump and password not in caplog.text
    hashes = [u[0] for u in sqlite3.connect(db).execute("select password_hash from users")]
    assert len(hashes) == 5 and all(h.startswith("$argon2id$") for h in hashes)
    assert len(set(hashes)) == 5                      # salted: the same password hashes differently


def test_the_session_token_changes_at_sign_in(db):
    app = app_for(db)
    c = client(app)
    c.cookies.set("__Host-sitewatch", "planted-by-an-attacker-0123456789", domain="testserver.local")
    assert c.get("/").status_code == 303                 # a token the console never issued is no session
    assert sign_in(c, "admin").status_code == 303
    first = session_cookie(c)
    assert first and first != "planted-by-an-attacker-0123456789"
    # an attacker's own live session planted in the victim's browser: signing in replaces it
    attacker = signed_in(app, "leader")
    planted = session_cookie(attacker)
    c.cookies.set("__Host-sitewatch", planted, domain="testserver.local")
    assert "当前已以 leader 登录" in c.get("/login").text
    assert sign_in(c, "admin").status_code == 303
    second = session_cookie(c)
    assert second not in (first, planted)
    with Store(db).engine.connect() as conn:
        hashes = set(conn.execute(select(SessionRow.c.token_hash)).scalars())
    assert digest(second) in hashes and digest(first) in hashes           # the first browser session lives on
    assert digest(planted) not in hashes                                  # the presented one was deleted
    assert first not in hashes and second not in hashes                   # the store holds hashes only
    assert attacker.get("/").status_code == 303
    assert "admin（管理员）" in c.get("/").text


def test_logout_ends_the_session_on_the_server(db):
    app = app_for(db)
    c = signed_in(app, "leader")
    token = session_cookie(c)
    r = c.post("/logout", data={"csrf": page_csrf(c)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "__Host-sitewatch=" in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    replay = client(app)                                  # the token kept by someone else is dead too
    replay.cookies.set("__Host-sitewatch", token, domain="testserver.local")
    assert replay.get("/").status_code == 303
    with Store(db).engine.connect() as conn:
        assert conn.execute(select(SessionRow).where(SessionRow.c.token_hash == digest(token))).first() is None
    assert actions(db)[-1] == "logout"


def test_csrf_is_required_on_every_post(db):
    app = app_for(db)
    c = signed_in(app, "admin")
    other = signed_in(app, "leader")
    good = page_csrf(c)
    for data in ({}, {"csrf": ""}, {"csrf": "wrong"}, {"csrf": page_csrf(other)}):
        r = c.post("/logout", data=data)
        assert r.status_code == 403, data
    assert "表单已失效" in c.post("/logout", data={"csrf": "wrong"}).text
    r = c.post("/logout", data={"csrf": good}, headers={"origin": "https://evil.example"})
    assert r.status_code == 403                            # cross-site, even with the right token
    r = c.post("/logout", data={"csrf": good}, headers={"sec-fetch-site": "cross-site"})
    assert r.status_code == 403
    assert c.get("/").status_code == 200                   # still signed in: nothing was done
    r = c.post("/logout", headers={"x-csrf-token": good, "origin": "https://testserver"})
    assert r.status_code == 303                            # the header form (for scripts), same origin


def test_the_sign_in_form_has_its_own_csrf_check(db):
    app = app_for(db)
    c = client(app)
    token = csrf_of(c.get("/login").text)
    form = {"username": "admin", "password": PASSWORD}
    assert c.post("/login", data=form).status_code == 403
    assert c.post("/login", data={**form, "csrf": "forged-value-0123456789"}).status_code == 403
    fresh = client(app)                                     # a form token without its cookie (another browser)
    assert fresh.post("/login", data={**form, "csrf": token}).status_code == 403
    assert session_cookie(c) is None and session_cookie(fresh) is None
    assert c.post("/login", data={**form, "csrf": token}).status_code == 303


def test_sessions_end_after_idle_time_and_absolute_time(db):
    clock = Clock()
    app = app_for(db, clock=clock, policy=Policy(idle=dt.timedelta(minutes=30), absolute=dt.timedelta(hours=1)))
    c = signed_in(app, "assessor")
    for _ in range(2):
        clock.advance(minutes=25)
        assert c.get("/").status_code == 200              # each request keeps it alive
    clock.advance(minutes=11)                                 # 61 minutes after sign-in
    assert c.get("/").status_code == 303
    c = signed_in(app, "assessor")
    clock.advance(minutes=31)
    r = c.get("/account")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/account"
    assert actions(db).count("session.expired") == 2


def test_a_disabled_account_loses_its_session_and_cannot_sign_in(db):
    app = app_for(db)
    c = signed_in(app, "unit-b")
    accounts.set_disabled(Store(db).engine, "unit-b", True, Actor("cli:test"))
    assert c.get("/").status_code == 303
    assert sign_in(client(app), "unit-b").status_code == 401
    accounts.set_disabled(Store(db).engine, "unit-b", False, Actor("cli:test"))
    assert sign_in(client(app), "unit-b").status_code == 303


def test_changing_ones_password(db):
    clock = Clock()
    app = app_for(db, clock=clock, policy=Policy(user_failures=3))
    c = signed_in(app, "leader")
    elsewhere = signed_in(app, "leader")
    token = page_csrf(c)

    def change(current, new, confirm=None):
        return c.post("/account/password", data={"csrf": token, "current": current, "new": new,
                                                  "confirm": new if confirm is None else confirm})

    assert "两次输入的新密码不一致" in change(PASSWORD, "New-password-123", "New-password-124").text
    assert "至少 10 个字符" in change(PASSWORD, "Ab1!").text
    assert "至少三类" in change(PASSWORD, "onlylowercaseletters").text
    assert "不得包含用户名" in change(PASSWORD, "My-leader-Pass-1").text
    r = change("Wrong-current-1", "New-password-123")
    assert r.status_code == 400 and "当前密码不正确" in r.text
    r = change(PASSWORD, "New-password-123")
    assert r.status_code == 200 and "密码已修改" in r.text
    assert c.get("/").status_code == 200                      # this session goes on
    assert elsewhere.get("/").status_code == 303              # the others ended
    assert sign_in(client(app), "leader").status_code == 401
    assert sign_in(client(app), "leader", "New-password-123").status_code == 303
    assert actions(db).count("password.changed") == 1


def test_cookie_attributes(db):
    c = client(app_for(db))
    r = sign_in(c, "admin")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-sitewatch=")
    for attr in ("HttpOnly", "Secure", "Path=/", "SameSite=lax"):
        assert attr in cookie, attr
    assert "Domain" not in cookie and "expires" not in cookie.split(",")[0].lower()   # a browser-session cookie
    plain = client(app_for(db, secure_cookies=False), base_url="http://testserver")
    r = sign_in(plain, "admin")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("sitewatch=") and "Secure" not in cookie and "HttpOnly" in cookie
    assert plain.get("/").status_code == 200


def test_security_headers_on_every_answer(db):
    app = app_for(db)
    anon = client(app)
    admin = signed_in(app, "admin")
    leader = signed_in(app, "leader")
    answers = [anon.get("/login"), anon.get("/"), anon.get("/nope"), anon.get("/static/look.css"),
               anon.post("/logout"), admin.get("/"), admin.get("/audit"), leader.get("/audit")]
    assert [r.status_code for r in answers] == [200, 303, 404, 200, 403, 200, 200, 403]
    for r in answers:
        h = r.headers
        csp = h["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert h["x-content-type-options"] == "nosniff" and h["referrer-policy"] == "same-origin"
        assert h["x-frame-options"] == "DENY" and h["strict-transport-security"].startswith("max-age=")
        assert "server" not in h or "uvicorn" not in h["server"]
    assert answers[5].headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in client(app, base_url="http://testserver").get("/login").headers


def test_only_the_configured_host_names_are_answered(db):
    c = client(app_for(db))
    assert c.get("/login", headers={"host": "attacker.example"}).status_code == 400    # DNS rebinding
    assert client(app_for(db, allowed_hosts=["127.0.0.1"]), base_url="http://127.0.0.1").get("/login").status_code == 200


def test_forwarded_headers_are_believed_from_the_trusted_proxy_only(db):
    """The proxy speaks plain HTTP to the console; the browser spoke HTTPS to the proxy (X-Forwarded-Proto)."""
    app = app_for(db, trusted_proxies=["10.9.0.1"], policy=Policy(address_failures=2, user_failures=100))

    def attempt(c, headers, password="Wrong-password-1"):
        r = c.get("/login", headers=headers)
        token = csrf_of(r.text)                  # the form's value is the sign-in cookie's (sent by the browser)
        form = {"csrf": token, "username": "admin", "password": password}
        return r, c.post("/login", data=form, headers={**headers, "cookie": f"__Host-sitewatch-login={token}"})

    via_proxy = client(app, client=("10.9.0.1", 5000), base_url="http://testserver")
    fwd = {"x-forwarded-for": "198.51.100.4, 203.0.113.9", "x-forwarded-proto": "https"}
    page, r = attempt(via_proxy, fwd)
    assert page.headers["strict-transport-security"] and r.status_code == 401   # the browser used HTTPS
    direct = client(app, client=("10.9.0.7", 5000), base_url="http://testserver")
    spoof = {"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https"}
    page, r = attempt(direct, spoof)
    assert "strict-transport-security" not in page.headers and r.status_code == 401
    got = [r["address"] for r in entries(Store(db).engine) if r["action"] == "login.failed"]
    assert got == ["10.9.0.7", "203.0.113.9"]                    # the client, never a forged address
    # the right-most address the proxy did not add counts: a client cannot pick another one to spread its failures
    attempt(via_proxy, {**fwd, "x-forwarded-for": "1.2.3.4, 203.0.113.9"})
    _, r = attempt(via_proxy, fwd, PASSWORD)
    assert r.status_code == 429


def test_read_only_mode_has_no_sign_in_and_refuses_every_post(db):
    app = app_for(db, read_only=True)
    c = client(app)
    r = c.get("/")
    assert r.status_code == 200 and "只读模式" in r.text and "退出登录" not in r.text
    assert c.get("/login").status_code == 303
    assert c.get("/audit").status_code == 403                       # a leader's view: no audit log
    assert c.get("/account").status_code == 404
    for path in ("/login", "/logout", "/account/password"):
        assert c.post(path, data={"csrf": "x", "username": "admin", "password": PASSWORD}).status_code == 403


@pytest.mark.parametrize("value, expected", [
    ("/audit", "/audit"), ("/a?b=1", "/a?b=1"), ("//evil.example/", "/"), ("/\\evil.example", "/"),
    ("https://evil.example/", "/"), ("javascript:alert(1)", "/"), ("/a\r\nSet-Cookie: x=1", "/"), (None, "/"),
])
def test_after_sign_in_only_local_paths(value, expected):
    assert safe_next(value) == expected


def test_an_open_redirect_through_the_sign_in_form_is_refused(db):
    c = client(app_for(db))
    r = sign_in(c, "admin", next="//evil.example/x")
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_a_body_over_the_limit_is_refused(db):
    c = signed_in(app_for(db), "admin")
    r = c.post("/logout", content=b"csrf=" + b"x" * (3 * 1024 * 1024),
               headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413


def test_accounts_sessions_and_throttling_on_each_database(store_db):
    """The console's tables on SQLite and PostgreSQL: an account, a sign-in, a lock-out, a logout, the audit log."""
    store = Store(store_db)
    accounts.add_user(store.engine, "admin", "admin", None, PASSWORD, Actor("cli:test"))
    app = app_for(store, policy=Policy(user_failures=2))
    c = client(app)
    for _ in range(2):
        assert sign_in(c, "admin", "Wrong-password-1").status_code == 401
    assert sign_in(c, "admin").status_code == 429
    accounts.set_password(store.engine, "admin", "Another-Pass-12", Actor("cli:test"))     # clears the lock
    assert sign_in(c, "admin", "Another-Pass-12").status_code == 303
    assert "网站监测总览" in c.get("/").text
    assert c.post("/logout", data={"csrf": page_csrf(c)}).status_code == 303
    assert c.get("/").status_code == 303
    log = [e["action"] for e in reversed(entries(store.engine))]
    assert log == ["user.add", "login.failed", "login.failed", "login.locked", "login.failed", "user.passwd",
                   "login.ok", "logout"]


def test_an_old_password_is_to_be_changed(db):
    clock = Clock(dt.datetime.now())
    app = app_for(db, clock=clock, policy=Policy(idle=dt.timedelta(days=200), absolute=dt.timedelta(days=200)))
    c = signed_in(app, "assessor")
    assert "请在" not in c.get("/").text
    clock.advance(days=accounts.PASSWORD_MAX_AGE_DAYS + 1)
    assert f"您的密码已使用 {accounts.PASSWORD_MAX_AGE_DAYS + 1} 天" in c.get("/").text
    assert "请在" not in client(app_for(db, read_only=True, clock=clock)).get("/").text


def test_password_checks_run_a_few_at_a_time(monkeypatch):
    """A flood of sign-ins waits for a hashing slot instead of taking 64 MiB per request at once."""
    import threading
    import time

    active, peak = 0, 0
    lock = threading.Lock()

    class Slow:
        def verify(self, encoded, password):
            nonlocal active, peak
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.05)
            with lock:
                active -= 1
            return True

        def check_needs_rehash(self, encoded):
            return False

    monkeypatch.setattr(accounts, "hasher", Slow)
    threads = [threading.Thread(target=accounts.verify_password, args=("$argon2id$…", "x")) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2
