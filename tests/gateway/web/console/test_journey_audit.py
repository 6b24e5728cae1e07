"""Issue 14, journey 4, in Debian's Chromium on an offline network: sam (security
officer) finds alice's queries in the timeline, verifies the chain, sees the alert a
bulk pull raised, acknowledges it, and suspends the user who pulled; that user's next
request is refused. The charts are drawn by ECharts from the static script under the
strict CSP. The zh-CN screenshot of the audit page in README.md is taken here."""

from __future__ import annotations

import re
import time
from contextlib import closing
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from audit.search import EventFilter, list_events
from tests.gateway.web.console.conftest import SCREENSHOTS, LiveConsole, browser_sign_in, offline

DIBAO = "civil.dibao_recipients"
CASE = "JW-2026-004"
BULK = {"fields": ["name", "region_code", "monthly_amount"], "purpose": "supervision",
        "case_ref": "JW-2026-BULK"}  # fmt: skip
BOUND_S = 30.0


def _alice_queries(live: LiveConsole) -> None:
    client, csrf = live.sign_in("alice")
    with closing(client):
        for page in ("1", "2"):
            answer = client.post(f"/console/query/{DIBAO}/preview", data={
                "csrf_token": csrf, "fields": ["name", "region_code"], "purpose": "supervision",
                "case_ref": CASE, "page_size": "20", "page": page})  # fmt: skip
            assert answer.status_code == 200, answer.text[:300]


def _api_query(live: LiveConsole, subject: str) -> httpx.Response:
    with httpx.Client(base_url=live.base, timeout=60) as api:
        return api.post(f"/api/v1/datasets/{DIBAO}/query", json=BULK,
                        headers=live.gw.headers(subject))  # fmt: skip


def _bulk_pull(live: LiveConsole) -> int:
    """dora (every county) pulls the whole roll until over the hourly bulk threshold."""
    rows = 0
    while rows <= 10_000:
        answer = _api_query(live, "dora")
        assert answer.status_code == 200, answer.text[:300]
        got = len(answer.json()["rows"])
        assert got > 0
        rows += got
    return rows


def _wait_for_alert(page: Page, live: LiveConsole, rule: str) -> Any:
    deadline = time.monotonic() + BOUND_S
    while True:
        page.goto(f"{live.base}/console/audit/alerts")
        alert = page.locator("article.alert", has_text=rule)
        if alert.count():
            return alert.first
        assert time.monotonic() < deadline, f"no {rule} alert within {BOUND_S} s"
        time.sleep(0.5)


def test_sam_reviews_verifies_acknowledges_and_suspends(live: LiveConsole,
                                                        browser: Browser) -> None:  # fmt: skip
    _alice_queries(live)
    _bulk_pull(live)
    context = browser.new_context(locale="zh-CN", accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})  # fmt: skip
    page = context.new_page()
    errors = offline(page, live.base)
    try:
        browser_sign_in(page, live, "sam")
        page.get_by_role("link", name="审计", exact=True).click()
        page.get_by_label("操作人").fill("alice")
        page.get_by_label("事件类型").fill("query.*")
        page.get_by_role("button", name="筛选").click()
        timeline = page.locator("#timeline table")
        expect(timeline).to_contain_text(CASE)
        expect(timeline).to_contain_text("query.completed")
        assert "alice" in page.url
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "audit.png"), full_page=True)

        # one event: the decision and the masks
        page.locator("#timeline tbody tr", has_text="query.started").first.get_by_role(
            "link"
        ).click()
        expect(page.locator("#decision-h")).to_be_visible()
        expect(page.locator("#masks-h")).to_be_visible()
        page.go_back()

        page.get_by_role("button", name="校验", exact=True).click()
        expect(page.locator("#verify-result")).to_contain_text("审计链完整")

        alert = _wait_for_alert(page, live, "bulk_pull")
        expect(alert).to_contain_text("dora")
        alert.get_by_label("处理说明").fill("与纪委核实中")
        alert.get_by_role("button", name="确认", exact=True).click()
        alert = page.locator("article.alert", has_text="bulk_pull").first
        expect(alert).to_contain_text("已确认")
        expect(alert).to_contain_text("与纪委核实中")
        alert_id = (alert.get_attribute("id") or "").removeprefix("alert-")
        assert alert_id

        alert.get_by_role("link", name="处置（暂停用户等）").click()
        expect(page.locator("#suspend-target")).to_have_value("dora")
        expect(page.locator("#suspend-alert")).to_have_value(alert_id)
        page.locator("#suspend-reason").fill("夜间批量下载，待核实")
        page.locator("#suspend-submit").click()
        expect(page.locator("#action-result")).to_contain_text("用户已暂停")

        page.get_by_role("link", name="统计图").click()
        expect(page.locator("#audit-charts")).to_have_attribute("data-drawn", "true")
        expect(page.locator("#chart-per-day svg")).to_be_visible()
    finally:
        context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors

    refused = _api_query(live, "dora")
    assert refused.status_code == 403 and refused.json()["code"] == "account_disabled"
    store = live.gw.services.audit.store
    acked = list_events(store=store, filters=EventFilter(actor="sam", type="alert.acknowledged"))[
        "items"
    ]
    assert [e for e in acked if e["details"]["alert_id"] == alert_id]
    suspended = list_events(store=store, filters=EventFilter(actor="sam", type="user.suspended"))[
        "items"
    ]
    assert suspended and suspended[0]["resource"] == "user:dora"
    reads = list_events(store=store, filters=EventFilter(actor="sam", type="audit.read"),
                        limit=200)["items"]  # fmt: skip
    assert any(e["details"].get("console") == "charts" for e in reads)
    assert re.match(r"^[0-9a-f]+$", alert_id)
