"""The console's accounts page (admin): list, add (a unit checked against the units the scans know), temporary
password, disable/enable, through the code of `sitewatch user`, each with its audit row; the last admin stays."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from consolekit import PASSWORD, app_for, build, client, copy_db, csrf_of, page_csrf, sign_in, signed_in

from sitewatch.console import accounts, audit
from sitewatch.store import Store

NEW = "Temporary-pass-77"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.mktemp("console-accounts"))


@pytest.fixture
def db(built, tmp_path):
    return copy_db(built[0], tmp_path / "sw.db")


def post(c, path: str, **data):
    page = c.get("/users")
    assert page.status_code == 200
    return c.post(path, data={"csrf": csrf_of(page.text, path), **data})


def test_only_an_admin_sees_and_changes_accounts(db):
    app = app_for(db)
    for name in ("leader", "assessor", "unit-a"):
        c = signed_in(app, name)
        assert c.get("/users").status_code == 403
        csrf = page_csrf(c)
        for path in ("/users/add", "/users/passwd", "/users/disable", "/users/enable"):
            assert c.post(path, data={"csrf": csrf, "username": "admin"}).status_code == 403, (name, path)
    admin = signed_in(app, "admin")
    soup = BeautifulSoup(admin.get("/users").text, "html.parser")
    rows = {tr["data-user"]: [td.get_text(strip=True) for td in tr.find_all("td")] for tr in soup.select("tr[data-user]")}
    assert set(rows) == {"admin", "leader", "assessor", "unit-a", "unit-b"}
    assert rows["unit-a"][1:4] == ["责任科室", "党政办", "启用"]
    assert rows["admin"][4] != "—" and rows["unit-b"][4] == "—"          # last sign-in
    r = admin.post("/users/disable", data={"username": "leader"})          # no CSRF secret
    assert r.status_code == 403 and not accounts.get_user(Store(db).engine, "leader").disabled


def test_add_a_user(db):
    app = app_for(db)
    admin = signed_in(app, "admin")
    r = post(admin, "/users/add", username="wang", role="unit", unit="党政办", password=NEW, confirm=NEW)
    assert r.status_code == 200 and "已新增账户 wang" in r.text and "注意" not in r.text
    user = accounts.get_user(Store(db).engine, "wang")
    assert (user.role, user.unit) == ("unit", "党政办")
    r = post(admin, "/users/add", username="li", role="unit", unit="财务科", password=NEW, confirm=NEW)
    assert r.status_code == 200 and "没有责任科室“财务科”的问题" in r.text       # free text, with a warning
    for data, error in (({"username": "wang"}, "已存在"), ({"role": "unit", "unit": ""}, "须填写责任科室"),
                        ({"password": "short", "confirm": "short"}, "密码不符合要求"),
                        ({"confirm": "other"}, "不一致"), ({"username": "a b"}, "用户名须为")):
        form = {"username": "zhao", "role": "leader", "unit": "", "password": NEW, "confirm": NEW, **data}
        r = post(admin, "/users/add", **form)
        assert r.status_code == 400 and error in r.text, (data, r.text[-800:])
    assert accounts.get_user(Store(db).engine, "zhao") is None
    added = [e for e in audit.entries(Store(db).engine) if e["action"] == "user.add" and e["actor"] == "admin"]
    assert {e["target"] for e in added} == {"wang", "li"}
    new = client(app)
    assert sign_in(new, "wang", NEW).status_code == 303


def test_reset_a_password_ends_the_users_sessions(db):
    app = app_for(db)
    leader = signed_in(app, "leader")
    admin = signed_in(app, "admin")
    r = post(admin, "/users/passwd", username="leader", password=NEW)
    assert r.status_code == 200 and "临时密码" in r.text
    assert leader.get("/").status_code == 303                               # signed out
    assert sign_in(client(app), "leader", PASSWORD).status_code == 401
    assert sign_in(client(app), "leader", NEW).status_code == 303
    assert post(admin, "/users/passwd", username="leader", password="weak").status_code == 400
    [entry] = [e for e in audit.entries(Store(db).engine) if e["action"] == "user.passwd"]
    assert entry["actor"] == "admin" and entry["target"] == "leader"


def test_disable_and_enable_and_the_last_admin_stays(db):
    app = app_for(db)
    assessor = signed_in(app, "assessor")
    admin = signed_in(app, "admin")
    assert post(admin, "/users/disable", username="assessor").status_code == 200
    assert assessor.get("/").status_code == 303
    assert sign_in(client(app), "assessor").status_code == 401
    assert post(admin, "/users/enable", username="assessor").status_code == 200
    assert sign_in(client(app), "assessor").status_code == 303
    r = post(admin, "/users/disable", username="admin")
    assert r.status_code == 400 and "最后一个" in r.text
    assert not accounts.get_user(Store(db).engine, "admin").disabled
    assert post(admin, "/users/disable", username="nobody").status_code == 404
    # with a second admin, an admin may disable itself (and is signed out)
    assert post(admin, "/users/add", username="boss", role="admin", unit="", password=NEW,
                confirm=NEW).status_code == 200
    r = post(admin, "/users/disable", username="admin")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    actions = [e["action"] for e in audit.entries(Store(db).engine) if e["actor"] == "admin"]
    assert actions.count("user.disable") == 2 and actions.count("user.enable") == 1


def test_hostile_unit_names_are_inert(db):
    admin = signed_in(app_for(db), "admin")
    evil = '"><script>alert(9)</script>'
    r = post(admin, "/users/add", username="evil", role="unit", unit=evil, password=NEW, confirm=NEW)
    assert r.status_code == 200
    text = admin.get("/users").text
    assert "<script>alert(9)" not in text and "&lt;script&gt;alert(9)&lt;/script&gt;" in text
