"""Issue 14, journey 1, in Debian's Chromium on an offline network: carl registers a new
SQLite source (tested first), introspects it, drafts an entry, corrects one suggested
classification next to its evidence, publishes it, and finds it in the catalog. Over
HTTP: the sources pages and forms are refused (403) to every role but stewards, CSRF-less
posts are refused, a failed connection test never shows the password, hostile names
are shown as text, and each step is on record as its API twin. The README's screenshot
of the sources page (zh-CN) is taken here."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from audit.search import EventFilter, list_events
from catalog.demo.identity import id_number
from catalog.models import Dataset
from tests.gateway.web.console.conftest import SCREENSHOTS, LiveConsole, browser_sign_in, offline

DIBAO = "civil.dibao_recipients"
SOURCE, ENTRY, TABLE = "civil-housing", "civil.housing_subsidy", "housing_subsidy"
TITLE = "住房保障补贴发放台账"
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
PASSWORD = "Tr0ub4dor-never-shown"


def _sqlite_file(live: LiveConsole, name: str) -> Path:
    """A department's SQLite file under an allowed root (the demo's, in demo mode)."""
    root = live.gw.settings.demo_data_dir
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    if path.exists():
        return path
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, xm TEXT, sfzh TEXT, "
                   "phone TEXT, region_code TEXT, remark TEXT, amount REAL)")  # fmt: skip
        people = [("张伟", "430121", "19560312", "13800138000"),
                  ("李娜", "430121", "19680704", "13912345678"),
                  ("刘洋", "430102", "19600229", "13700001111"),
                  ("杨磊", "110105", "19880420", "13500003333")]  # fmt: skip
        db.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)", [
            (i + 1, name, id_number(region, birth, 10 + i), phone, region, "按月发放", 300.0 + i)
            for i, (name, region, birth, phone) in enumerate(people)])  # fmt: skip
        db.commit()
    return path


def test_carl_registers_classifies_and_publishes(live: LiveConsole, browser: Browser) -> None:
    path = _sqlite_file(live, "housing.db")
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = offline(page, live.base)
    try:
        browser_sign_in(page, live, "carl")
        page.get_by_role("link", name="数据源", exact=True).click()
        page.get_by_role("button", name="SQLite", exact=True).click()
        page.get_by_label("数据源编号").fill(SOURCE)
        page.get_by_label("名称").fill("住房保障补贴库")
        page.get_by_label("SQLite 文件路径").fill(str(path))

        # the connection is tested before anything is saved
        page.get_by_role("button", name="测试连接").click()
        expect(page.locator("#tested")).to_contain_text("连接成功")
        expect(page.locator("#tested")).to_contain_text(path.name)
        page.get_by_role("button", name="测试并登记").click()
        page.wait_for_url(f"{live.base}/console/sources/{SOURCE}")

        # introspection: columns, a suggestion per column, and its evidence
        page.get_by_role("button", name="读取表结构与分级建议").click()
        sfzh = page.locator("tr", has=page.locator("td", has_text=re.compile("^sfzh$")))
        expect(sfzh).to_contain_text("身份证号")
        page.get_by_label("条目编号").fill(ENTRY)
        page.get_by_label("中文标题").fill(TITLE)
        page.get_by_label("允许的用途（逗号分隔）").fill("supervision, statistics")
        page.get_by_role("button", name=re.compile("^建立草稿")).click()
        page.wait_for_url(f"{live.base}/console/sources/entries/{ENTRY}")
        expect(page.locator("h1")).to_contain_text("草稿")

        # the steward corrects one suggestion: the remark column is free text
        remark = page.locator("#field-remark")
        expect(remark).to_contain_text("非个人信息")  # the suggestion
        page.locator("#pi_category__remark").select_option("free_text")
        page.locator("#region_field").select_option("region_code")
        page.get_by_role("button", name="保存分级").click()
        expect(page.locator("#pi_category__remark")).to_have_value("free_text")
        expect(page.locator("#field-remark")).to_have_class(re.compile("corrected"))
        expect(page.locator("#pi_category__sfzh")).to_have_value("id_number")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "sources.png"), full_page=True)

        page.get_by_role("button", name="发布").click()
        expect(page.locator("h1")).to_contain_text("已发布")
        page.get_by_role("link", name="在数据目录中查看").click()
        expect(page.locator("h1")).to_contain_text(TITLE)
        page.get_by_role("link", name="数据目录", exact=True).click()
        page.get_by_label("搜索（中文或英文）").fill("住房保障")
        page.get_by_role("button", name="搜索").click()
        expect(page.locator("#results")).to_contain_text(TITLE)
    finally:
        context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors

    with live.gw.services.sessions() as session:
        entry = session.get(Dataset, ENTRY)
        assert entry is not None and entry.status == "published"
        remark_field = next(f for f in entry.fields if f.name == "remark")
        assert remark_field.pi_category == "free_text"
        assert remark_field.suggested_pi_category == "none"  # the suggestion stays recorded
    found = list_events(store=live.gw.services.audit.store,
                        filters=EventFilter(actor="carl"), limit=200)["items"]  # fmt: skip
    types = {e["type"] for e in found}
    assert {"source.registered", "dataset.published"} <= types, types


SOURCE_FORM = {"kind": "sqlite", "id": "civil-other", "display_name": "x",
               "path": "/nonexistent/x.db"}  # fmt: skip
# (method, path, data); only stewards may use any of them
MATRIX = [
    ("GET", "/console/sources", None),
    ("GET", "/console/sources/new?kind=postgresql", None),
    ("GET", "/console/sources/civil-db", None),
    ("GET", f"/console/sources/entries/{DIBAO}", None),
    ("POST", "/console/sources/test", SOURCE_FORM),
    ("POST", "/console/sources", SOURCE_FORM),
    ("POST", "/console/sources/civil-db/draft", {"object_name": "x"}),
    ("POST", f"/console/sources/entries/{DIBAO}/classify", {"title_zh": "x"}),
    ("POST", f"/console/sources/entries/{DIBAO}/publish", {}),
    ("POST", f"/console/sources/entries/{DIBAO}/refresh", {}),
]


@pytest.mark.parametrize("subject", ["alice", "carl", "sam", "root"])
def test_sources_pages_and_forms_are_refused_to_other_roles(live: LiveConsole,
                                                            subject: str) -> None:  # fmt: skip
    client, csrf = live.sign_in(subject)
    with closing(client):
        for method, path, data in MATRIX:
            if method == "GET":
                answer = client.get(path)
            elif subject == "carl":  # carl may: only the harmless ones are sent
                if not path.endswith(("/refresh", "/test")):
                    continue
                answer = client.post(path, data={**(data or {}), "csrf_token": csrf})
            else:
                answer = client.post(path, data={**(data or {}), "csrf_token": csrf})
            if subject == "carl":
                assert answer.status_code == 200, (path, answer.text[:300])
            else:
                assert answer.status_code == 403, (subject, path, answer.status_code)
        menu = client.get("/console").text
        assert ('href="/console/sources"' in menu) == (subject == "carl")


def test_csrf_secrets_and_hostile_names(live: LiveConsole) -> None:
    client, csrf = live.sign_in("carl")
    with closing(client):
        # no CSRF token, a wrong one, a cross-site origin: refused before anything runs
        assert client.post("/console/sources", data=SOURCE_FORM).status_code == 403
        assert (
            client.post(
                "/console/sources/test", data={**SOURCE_FORM, "csrf_token": "x" * 43}
            ).status_code
            == 403
        )
        assert client.post(f"/console/sources/entries/{DIBAO}/publish", data={}).status_code == 403
        # a failed test shows why, never the password
        answer = client.post("/console/sources/test", data={
            "csrf_token": csrf, "kind": "postgresql", "id": "civil-pg", "display_name": "pg",
            "host": "127.0.0.1", "port": "1", "database": "nope", "user": "reader",
            "secret": PASSWORD})  # fmt: skip
        assert answer.status_code == 200 and "连接失败" in answer.text
        assert PASSWORD not in answer.text
        # a steward's hostile display name and title are text
        path = _sqlite_file(live, "hostile.db")
        made = client.post("/console/sources", data={
            "csrf_token": csrf, "kind": "sqlite", "id": "civil-hostile", "display_name": HOSTILE,
            "path": str(path)})  # fmt: skip
        assert made.status_code == 303, made.text[:500]
        drafted = client.post("/console/sources/civil-hostile/draft", data={
            "csrf_token": csrf, "object_name": TABLE, "dataset_id": "civil.hostile_housing",
            "title_zh": HOSTILE, "allowed_purposes": "supervision"})  # fmt: skip
        assert drafted.status_code == 303, drafted.text[:500]
        for page in (
            "/console/sources",
            "/console/sources/civil-hostile",
            "/console/sources/entries/civil.hostile_housing",
        ):
            text = client.get(page).text
            assert "<script>window.__pwned" not in text and "<img src=x" not in text, page
            assert "&lt;script&gt;" in text, page
        # the source drifts: a refresh follows it and shows what changed
        with closing(sqlite3.connect(path)) as db:
            db.execute(f"ALTER TABLE {TABLE} ADD COLUMN bank_card TEXT")
            db.commit()
        drift = client.post("/console/sources/entries/civil.hostile_housing/refresh",
                            data={"csrf_token": csrf})  # fmt: skip
        assert drift.status_code == 200 and "新增列" in drift.text and "bank_card" in drift.text
        again = client.post("/console/sources/entries/civil.hostile_housing/refresh",
                            data={"csrf_token": csrf})  # fmt: skip
        assert "与源一致，无变化。" in again.text
        # nothing was saved by a refused form: another department's id is a clear 4xx
        other = client.post("/console/sources", data={
            "csrf_token": csrf, "kind": "sqlite", "id": "civil-hostile", "display_name": "again",
            "path": str(path)})  # fmt: skip
        assert 400 <= other.status_code < 500


def test_each_kind_form_becomes_the_apis_settings() -> None:
    """The kind-specific forms map onto the same ``settings`` the API takes; the
    password never lands in them (it is the separate, encrypted secret)."""
    from catalog.errors import BadRequest
    from gateway.web.console.forms import Form
    from gateway.web.console.pages.sources import settings_of

    def form(**values: str) -> Form:
        return Form(list(values.items()))

    assert settings_of("sqlite", form(path="/srv/civil/a.db")) == {
        "url": "sqlite:////srv/civil/a.db"
    }
    pg = settings_of("postgresql", form(host="db.civil", port="5432", database="roll",
                                        user="reader@x", schema="public", secret="pw"))  # fmt: skip
    assert pg == {"url": "postgresql://reader%40x@db.civil:5432/roll", "schema": "public"}
    assert settings_of("mysql", form(host="db", database="d")) == {"url": "mysql://db/d"}
    assert settings_of("csv", form(root="/srv/civil")) == {"root": "/srv/civil"}
    assert settings_of("parquet", form(path="/srv/a.parquet")) == {"path": "/srv/a.parquet"}
    http = settings_of("http", form(base_url="https://api.civil", auth="bearer",
                                    objects='[{"name": "people", "path": "/people"}]'))  # fmt: skip
    assert http == {"base_url": "https://api.civil", "auth": "bearer",
                    "objects": [{"name": "people", "path": "/people"}]}  # fmt: skip
    for kind, bad in [("sqlite", form(path="relative.db")), ("csv", form()),
                      ("csv", form(path="/a", root="/b")), ("postgresql", form(host="h")),
                      ("postgresql", form(host="h", database="d", port="x")),
                      ("http", form(base_url="https://a", objects="not json")),
                      ("oracle", form())]:  # fmt: skip
        with pytest.raises(BadRequest):
            settings_of(kind, bad)
