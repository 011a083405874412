"""The store's buffered writes go straight to the SQLite driver: they must be stored exactly as SQLAlchemy's
own insert() stores them, defaults included, so every reader sees the same values."""

from __future__ import annotations

import datetime as dt
import sqlite3

from sqlalchemy import insert

from sitewatch.store import ListItemRow, PageRow, ProbeRow, Store, TargetRow, upgrade_store


def raw_rows(path, table: str) -> list[tuple]:
    c = sqlite3.connect(path)
    cols = [r[1] for r in c.execute(f'pragma table_info("{table}")') if r[1] != "id"]
    return c.execute(f'select {", ".join(f"typeof({k}), {k}" for k in cols)} from "{table}" order by id').fetchall()


def test_buffered_rows_are_stored_as_sqlalchemy_stores_them(tmp_path):
    rows = {
        ListItemRow: [dict(scan_id=1, column_key="k", page_url="http://a/l.html", title="关于<b>公示</b>", url="http://a/1.html",
                           date=dt.date(2026, 3, 9), date_source="list", attachments=[["附件.pdf", "http://a/f.pdf"]]),
                      dict(scan_id=1, column_key="k", page_url="http://a/l.html", title="无日期", url="http://a/2.html",
                           date=None)],
        PageRow: [dict(scan_id=1, url="http://a/", status=200, title="首页", meta={"SiteName": "某区政府"}, pub_date=None)],
        TargetRow: [dict(scan_id=1, url="http://a/x", internal=True, status=None, verdict="broken", chain=[["http://a/y", 302]]),
                 dict(scan_id=1, url="http://a/z", verdict="ok")],
        ProbeRow: [dict(site="s", url="http://a/", at=dt.datetime(2026, 11, 27, 8, 0, 0), ok=True, status=200, latency_ms=12),
                dict(site="s", url="http://a/", at=dt.datetime(2026, 11, 27, 8, 5, 1, 250), ok=False, status=None, latency_ms=0)],
    }
    buffered, reference = Store(tmp_path / "buffered.db"), Store(tmp_path / "reference.db")
    for store in (buffered, reference):
        store.new_scan("s", ["http://a/"], dt.date(2026, 11, 27), {})
    for table, table_rows in rows.items():
        for r in table_rows:
            buffered.add(table, **r)
        with reference.engine.begin() as c:
            for r in table_rows:
                c.execute(insert(table), r)
    buffered.flush()
    for table in rows:
        name = table.name
        assert raw_rows(tmp_path / "buffered.db", name) == raw_rows(tmp_path / "reference.db", name), name
    items = buffered.engine.connect().execute(ListItemRow.select().order_by(ListItemRow.c.id)).all()
    assert items[0].date == dt.date(2026, 3, 9) and items[0].attachments == [["附件.pdf", "http://a/f.pdf"]]
    assert items[1].attachments == [] and items[1].pinned is False


def test_rows_added_in_many_batches_are_all_there_in_order(store_db):
    from sitewatch.store import LinkRow

    store = Store(store_db)
    sid = store.new_scan("s", ["http://a/"], dt.date(2026, 11, 27), {})
    store.BATCH = 50
    expected = []
    for page in range(40):
        rows = [(sid, f"http://a/{page}.html", f"http://a/t{page}-{i}.html", "a", f"链接{i}") for i in range(7)]
        store.add_rows(LinkRow, ("scan_id", "page_url", "target", "tag", "text"), rows)
        store.add(TargetRow, scan_id=sid, url=f"http://a/{page}.html", verdict="ok")
        expected += rows
        store.maybe_flush()
    store.flush()
    with store.engine.connect() as c:
        assert [tuple(r) for r in c.exec_driver_sql("select scan_id, page_url, target, tag, text from links "
                                                    "order by id")] == expected
        assert c.exec_driver_sql("select count(*) from targets").scalar() == 40


def test_broken_targets_come_with_their_pages_and_texts_also_in_a_store_made_before_the_link_index_changed(tmp_path):
    from sitewatch.store import LinkRow

    path = tmp_path / "old.db"
    store = Store(path)
    c = sqlite3.connect(path)
    c.execute("drop index ix_links_scan_page")
    c.execute("create index ix_links_scan_target on links (scan_id, target)")      # as stores made before
    c.execute("drop table alembic_version")                                        # (before migrations)
    c.commit()
    upgrade_store(path)
    store = Store(path)
    indexes = {r[0] for r in c.execute("select name from sqlite_master where type='index' and tbl_name='links'")}
    assert indexes == {"ix_links_scan_page"}
    other = store.new_scan("s", ["http://a/"], dt.date(2026, 10, 27), {})
    sid = store.new_scan("s", ["http://a/"], dt.date(2026, 11, 27), {})
    cols = ("scan_id", "page_url", "target", "tag", "text")
    store.add_rows(LinkRow, cols, [(sid, "http://a/z.html", "http://a/dead", "a", ""),
                                (sid, "http://a/b.html", "http://a/dead", "a", "失效链接"),
                                (sid, "http://a/a.html", "http://a/dead", "a", "旧标题"),
                                (sid, "http://a/b.html", "http://a/dead", "img", "失效链接"),
                                (sid, "http://a/a.html", "http://a/ok", "a", "正常"),
                                (other, "http://a/old.html", "http://a/dead", "a", "上月")])
    store.add(TargetRow, scan_id=sid, url="http://a/dead", verdict="broken", status=404)
    store.add(TargetRow, scan_id=sid, url="http://a/ok", verdict="ok", status=200)
    store.add(TargetRow, scan_id=other, url="http://a/dead", verdict="broken", status=404)
    [(target, pages, texts)] = store.broken_targets(sid)
    assert (target.url, target.status) == ("http://a/dead", 404)
    assert pages == ["http://a/a.html", "http://a/b.html", "http://a/z.html"]
    assert texts == ["失效链接", "旧标题"]
    assert store.broken_targets(store.new_scan("s", ["http://a/"], dt.date(2026, 12, 27), {})) == []


def test_a_unit_of_work_is_flushed_whole_or_not_at_all(store_db):
    """Rows a task adds inside ``Store.unit`` stay out of a flush another task triggers while it awaits, join the
    buffer together when the unit ends, and are dropped when it ends by an exception (the URL was not done)."""
    import asyncio

    from sitewatch.store import LinkRow, PageRow

    store = Store(store_db)
    sid = store.new_scan("s", ["http://a/"], dt.date(2026, 11, 26), {})
    halfway, resume = asyncio.Event(), asyncio.Event()

    def count(table) -> int:
        return store.count(table, sid)

    async def page(url: str, fail: bool = False) -> None:
        with store.unit():
            store.add(PageRow, scan_id=sid, url=url)
            halfway.set()
            await resume.wait()
            store.add_rows(LinkRow, ("scan_id", "page_url", "target", "tag", "text"), [(sid, url, url + "x", "a", "")])
            if fail:
                raise asyncio.CancelledError

    async def other() -> None:
        await halfway.wait()
        store.add(PageRow, scan_id=sid, url="http://a/other")     # outside any unit: buffered at once
        store.flush()
        assert (count(PageRow), count(LinkRow)) == (1, 0)           # half a page never reaches the store
        resume.set()

    async def main() -> None:
        results = await asyncio.gather(page("http://a/1"), page("http://a/2", fail=True), other(),
                                       return_exceptions=True)
        assert isinstance(results[1], asyncio.CancelledError)

    asyncio.run(main())
    store.flush()
    with store.engine.connect() as c:
        assert sorted(c.exec_driver_sql("select url from pages").scalars()) == ["http://a/1", "http://a/other"]
        assert c.exec_driver_sql("select page_url from links").scalars().all() == ["http://a/1"]
