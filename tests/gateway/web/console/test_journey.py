"""Issue 14, journey 2, in Debian's Chromium on an offline network: alice signs in,
searches 低保, queries with a purpose and a case reference, sees masked values and
only her county, pages on, and downloads CSV. The screenshots of the catalog and
query pages in README.md are taken here (zh-CN)."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Browser, expect

from audit.search import EventFilter, list_events
from tests.gateway.web.console.conftest import SCREENSHOTS, LiveConsole, browser_sign_in, offline

DIBAO = "civil.dibao_recipients"
CASE = "JW-2026-001"
MASKED_ID = re.compile(r"^\d{6}\*{8}[\dX]{4}$")


def _column(page: object, index: int) -> list[str]:
    cells = page.locator(f"#results table.rows tbody tr td:nth-child({index})")  # type: ignore[attr-defined]
    return [text.strip() for text in cells.all_inner_texts()]


def test_alice_searches_queries_and_downloads(live: LiveConsole, browser: Browser) -> None:
    context = browser.new_context(locale="zh-CN", accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})  # fmt: skip
    page = context.new_page()
    errors = offline(page, live.base)
    try:
        browser_sign_in(page, live, "alice")
        expect(page.get_by_role("heading", level=1)).to_contain_text("alice")

        # the catalog finds the subsistence-allowance roll by its Chinese tag (htmx)
        page.get_by_role("link", name="数据目录", exact=True).click()
        page.get_by_label("搜索（中文或英文）").fill("低保")
        page.get_by_role("button", name="搜索").click()
        expect(page.locator("#results")).to_contain_text("城乡低保对象名册")
        expect(page).to_have_url(re.compile(r"q=%E4%BD%8E%E4%BF%9D|q=低保"))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "catalog.png"), full_page=True)

        # the entry page: her effective access per field, from the policy
        page.get_by_role("link", name="城乡低保对象名册").click()
        id_row = page.locator("table.fields tr", has=page.locator("th", has_text="id_number"))
        expect(id_row).to_contain_text("脱敏")
        page.get_by_role("button", name="查询此数据集").click()
        # htmx loaded before "preview": a click before it posts the form natively and the
        # results come as a page of their own, without the form the download button is on
        # (their paging still works: tests/gateway/web/console/test_query_paging.py)
        page.wait_for_load_state("load")

        # the query: purpose and case reference, a page of what the API returns
        page.get_by_label("案件编号").fill(CASE)
        page.get_by_role("button", name="预览").click()
        expect(page.locator("#results table.rows")).to_be_visible()
        headers = page.locator("#results table.rows thead th").all_inner_texts()
        names = [h.split()[0] for h in headers]
        ids = _column(page, names.index("id_number") + 1)
        regions = _column(page, names.index("region_code") + 1)
        assert ids and all(MASKED_ID.match(v) for v in ids), ids[:5]
        assert regions and all(r.startswith("430121") for r in regions), set(regions)
        page.screenshot(path=str(SCREENSHOTS / "query.png"), full_page=True)

        page.get_by_role("button", name="下一页").click()
        expect(page.locator("#results h2")).to_contain_text("第 2 页")

        with page.expect_download() as caught:
            page.get_by_role("button", name="下载 CSV").click()
        csv_text = caught.value.path().read_text(encoding="utf-8-sig")
        lines = csv_text.strip().splitlines()
        header = [h.strip('"') for h in lines[0].split(",")]
        assert "id_number" in header and "region_code" in header
        rows = [line.split(",") for line in lines[1:]]
        assert rows
        at_id, at_region = header.index("id_number"), header.index("region_code")
        assert all(MASKED_ID.match(r[at_id].strip('"')) for r in rows)
        assert all(r[at_region].strip('"').startswith("430121") for r in rows)
    finally:
        context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors

    # on record as API queries are: purpose, case reference, completed (a completion
    # is queued behind its response: poll briefly)
    done: list[dict[str, object]] = []
    for _ in range(100):
        done = list_events(store=live.gw.services.audit.store,
                           filters=EventFilter(actor="alice", type="query.completed",
                                               case_ref=CASE), limit=50)["items"]  # fmt: skip
        if len(done) >= 3:
            break
        time.sleep(0.05)
    assert len(done) >= 3  # two preview pages and the download
    assert all(e["purpose"] == "supervision" and e["resource"] == f"dataset:{DIBAO}"
               for e in done)  # fmt: skip
