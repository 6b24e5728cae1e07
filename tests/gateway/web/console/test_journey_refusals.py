"""Issue 14, the query page's refusals, in Debian's Chromium: every refusal an approval
would lift offers a pre-filled access request — a masked field wanted in clear, a
filter on a masked field, an L4 entry — and the request it fills is the one the
analyst then sends (fields, purpose, case reference). For the filter, carl's approval
really lifts the refusal. Refusals no approval can lift (a field above clearance, a
purpose the entry does not allow) offer nothing, in the console and in the API's 403."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from catalog.access_requests import AccessRequest
from catalog.demo.identity import id_number
from tests.gateway.web.console.conftest import LiveConsole, browser_sign_in, offline

DIBAO = "civil.dibao_recipients"
L4_SOURCE, L4_ENTRY, L4_TABLE = "civil-l4-roll", "civil.l4_roll", "l4_roll"


def _newest_request(live: LiveConsole, subject: str) -> AccessRequest:
    with live.gw.services.sessions() as session:
        return max(session.query(AccessRequest).filter_by(requester=subject).all(),
                   key=lambda r: r.created_at)  # fmt: skip


def _refused_then_ask(page: Page, live: LiveConsole, case: str, fields: list[str]) -> None:
    """The preview is refused with the policy's reasons; the offered request carries the
    fields, the purpose and the case; alice (or dora) sends it as filled."""
    page.get_by_label("案件编号").fill(case)
    page.get_by_role("button", name="预览").click()
    expect(page.locator("#results.refused")).to_be_visible()
    page.locator("#ask-access").click()
    page.wait_for_url(re.compile(r".*/console/requests/new\?.*"))
    checked = page.locator("#request-form input[name=fields]:checked")
    assert sorted(checked.evaluate_all("els => els.map(e => e.value)")) == sorted(fields)
    expect(page.locator("#case_ref")).to_have_value(case)
    expect(page.locator("#purpose")).to_have_value("supervision")
    page.get_by_label("申请理由").fill("核查需要")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(f"{live.base}/console/requests")
    expect(page.locator("#mine tbody tr", has_text=case)).to_contain_text("待审批")


def _l4_entry(live: LiveConsole) -> None:
    """carl registers a roll whose phone column he classifies L4 (the entry follows)."""
    root: Path = live.gw.settings.demo_data_dir
    root.mkdir(parents=True, exist_ok=True)
    path = root / "l4_roll.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"CREATE TABLE {L4_TABLE} (id INTEGER PRIMARY KEY, sfzh TEXT, phone TEXT, "
                   "region_code TEXT)")  # fmt: skip
        db.execute(f"INSERT INTO {L4_TABLE} VALUES (1, ?, '13800138000', '430121')",
                   (id_number("430121", "19560312", 11),))  # fmt: skip
        db.commit()
    client, csrf = live.sign_in("carl")
    with closing(client):
        for url, data in [
            ("/console/sources", {"kind": "sqlite", "id": L4_SOURCE, "display_name": "l4",
                                  "path": str(path)}),
            (f"/console/sources/{L4_SOURCE}/draft", {"object_name": L4_TABLE,
                                                     "dataset_id": L4_ENTRY, "title_zh": "L4 名册",
                                                     "allowed_purposes": "supervision"}),
            (f"/console/sources/entries/{L4_ENTRY}/classify", {"level__phone": "L4",
                                                               "region_field": "region_code"}),
            (f"/console/sources/entries/{L4_ENTRY}/publish", {}),
        ]:  # fmt: skip
            answer = client.post(url, data={"csrf_token": csrf, **data})
            assert answer.status_code == 303, (url, answer.text[:500])
    dora = {"display_name": "Dora", "clearance": "L4", "jurisdiction": [""]}
    answer = live.gw.client.put("/api/v1/admin/users/dora", json=dora,
                                headers=live.gw.headers("root"))  # fmt: skip
    assert answer.status_code == 200, answer.text[:300]


def test_each_refusal_approval_lifts_offers_the_request(
    live: LiveConsole, browser: Browser
) -> None:
    _l4_entry(live)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = offline(page, live.base)
    try:
        browser_sign_in(page, live, "alice")
        # 1. a masked field wanted in clear
        page.goto(f"{live.base}/console/query/{DIBAO}")
        page.locator("#query-form input[name=unmask][value=phone]").check()
        _refused_then_ask(page, live, "JW-REF-1", ["phone"])
        assert _newest_request(live, "alice").fields == ["phone"]

        # 2. a filter on a masked field (a grant releases the field in clear)
        page.goto(f"{live.base}/console/query/{DIBAO}")
        page.locator("#where_0_field").select_option("name")
        page.locator("#where_0_op").select_option("prefix")
        page.locator("#where_0_value").fill("张")
        _refused_then_ask(page, live, "JW-REF-2", ["name"])
        asked = _newest_request(live, "alice")
        assert asked.fields == ["name"] and asked.case_ref == "JW-REF-2"
        carl, carl_csrf = live.sign_in("carl")
        with closing(carl):
            approved = carl.post(f"/console/requests/{asked.id}/approve",
                                 data={"csrf_token": carl_csrf, "comment": "同意"})  # fmt: skip
            assert approved.status_code == 303, approved.text[:300]
        page.goto(f"{live.base}/console/query/{DIBAO}")  # the same query now passes
        page.locator("#where_0_field").select_option("name")
        page.locator("#where_0_op").select_option("prefix")
        page.locator("#where_0_value").fill("张")
        page.get_by_label("案件编号").fill("JW-REF-2")
        page.get_by_role("button", name="预览").click()
        expect(page.locator("#results table.rows")).to_be_visible()
        expect(page.locator("#results table.rows tbody")).to_contain_text("张")
        page.get_by_role("button", name="退出").click()

        # 3. an L4 entry: every field released needs approval (two stewards)
        browser_sign_in(page, live, "dora")
        page.goto(f"{live.base}/console/query/{L4_ENTRY}")
        _refused_then_ask(page, live, "JW-REF-3", ["id", "phone", "region_code", "sfzh"])
    finally:
        context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


@pytest.mark.parametrize(
    ("subject", "form"),
    [
        ("arthur", {"where_0_field": "name", "where_0_op": "=", "where_0_value": "张伟"}),
        ("alice", {"purpose": "marketing"}),
    ],
)
def test_refusals_approval_cannot_lift_offer_nothing(live: LiveConsole, subject: str,
                                                     form: dict[str, str]) -> None:  # fmt: skip
    """arthur (L2) filters on names (L3, above his clearance); alice names a purpose
    the entry does not allow: refused, and no request is offered, here or in the API."""
    client, csrf = live.sign_in(subject)
    with closing(client):
        body = {"csrf_token": csrf, "fields": ["region_code", "monthly_amount"],
                "purpose": "supervision", "case_ref": "JW-REF-9", "page_size": "20",
                "page": "1", **form}  # fmt: skip
        answer = client.post(f"/console/query/{DIBAO}/preview", data=body)
        assert answer.status_code == 403, answer.text[:300]
        assert 'class="refused"' in answer.text and "ask-access" not in answer.text
    where = ([{"field": "name", "op": "=", "value": "张伟"}] if "where_0_field" in form
             else [])  # fmt: skip
    api = live.gw.query(subject, DIBAO, {"fields": ["region_code"], "where": where,
                                         "purpose": form.get("purpose", "supervision"),
                                         "case_ref": "JW-REF-9"})  # fmt: skip
    assert api.status_code == 403
    assert "approval_fields" not in api.json()["details"], api.json()


def test_the_api_offers_a_request_for_a_filter_on_a_masked_field(live: LiveConsole) -> None:
    api = live.gw.query("alice", DIBAO, {"fields": ["region_code"], "purpose": "supervision",
                                         "case_ref": "JW-REF-8",
                                         "where": [{"field": "phone", "op": "prefix",
                                                    "value": "138"}]})  # fmt: skip
    assert api.status_code == 403
    details = api.json()["details"]
    assert details["approval_fields"] == ["phone"] and "how_to_ask" in details
    assert "requires_approval" not in details  # the policy's own flag keeps its meaning
