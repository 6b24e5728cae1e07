"""Values from sources (and stewards' titles) are hostile by assumption: a ``<script>``
in a source row and in an entry's title is shown as text, never run — escaped by the
templates, and blocked by the CSP even if it were not."""

from __future__ import annotations

from contextlib import closing

from playwright.sync_api import Browser, expect
from sqlalchemy import create_engine, text

from catalog.models import Dataset, Field, Source
from tests.gateway.web.console.conftest import LiveConsole, browser_sign_in, offline

HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
ENTRY = "civil.hostile_notes"


def _add_hostile_entry(live: LiveConsole) -> None:
    with live.gw.services.sessions() as session:
        if session.get(Dataset, ENTRY) is not None:
            return
        source = session.get(Source, "civil-db")
        assert source is not None
        engine = create_engine(source.settings["url"])
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE hostile_notes (id INTEGER, region_code TEXT, "
                              "note TEXT)"))  # fmt: skip
            conn.execute(text("INSERT INTO hostile_notes VALUES (1, '430121', :v)"),
                         {"v": HOSTILE})  # fmt: skip
        engine.dispose()
        ds = Dataset(id=ENTRY, department="civil", source_id="civil-db",
                     object_name="hostile_notes", title_zh=f"备注 {HOSTILE}",
                     title_en=f"Notes {HOSTILE}", level="L1",
                     allowed_purposes=["supervision"], region_field="region_code", tags=[],
                     status="published", schema_version=1)  # fmt: skip
        ds.fields = [Field(name=n, type=t, level="L1", pi_category="none", position=i)
                     for i, (n, t) in enumerate([("id", "int64"), ("region_code", "string"),
                                                 ("note", "string")])]  # fmt: skip
        session.add(ds)
        session.commit()


def test_hostile_values_are_escaped(live: LiveConsole) -> None:
    _add_hostile_entry(live)
    client, csrf = live.sign_in("alice")
    with closing(client):
        listing = client.get("/console/catalog", params={"q": "备注"}).text
        entry = client.get(f"/console/catalog/{ENTRY}").text
        rows = client.post(f"/console/query/{ENTRY}/preview", data={
            "csrf_token": csrf, "purpose": "supervision", "case_ref": "JW-XSS",
            "page_size": "20"}).text  # fmt: skip
    for html in (listing, entry, rows):
        assert "<script>window.__pwned" not in html
        assert "<img src=x" not in html
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in rows


def test_hostile_values_do_not_run_in_the_browser(live: LiveConsole, browser: Browser) -> None:
    _add_hostile_entry(live)
    page = browser.new_page(locale="zh-CN")
    errors = offline(page, live.base)
    try:
        browser_sign_in(page, live, "alice")
        page.goto(f"{live.base}/console/query/{ENTRY}")
        page.get_by_label("案件编号").fill("JW-XSS")
        page.get_by_role("button", name="预览").click()
        expect(page.locator("#results table.rows")).to_contain_text("<script>window.__pwned")
        page.goto(f"{live.base}/console/catalog/{ENTRY}")
        expect(page.get_by_role("heading", level=1)).to_contain_text("<script>")
        assert page.evaluate("window.__pwned === undefined")
    finally:
        page.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
