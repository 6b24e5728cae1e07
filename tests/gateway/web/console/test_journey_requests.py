"""Issue 14, journey 3, in Debian's Chromium on an offline network: alice asks to see
phone numbers unmasked (from her refused query, pre-filled), carl approves with a
comment, alice sees them; carl revokes, alice no longer does. Over HTTP: the requests
pages and forms are refused (403) to the roles that may not use them, CSRF-less posts
are refused, every decision is on record as its API twin's, and a hostile
justification is shown as text. The README's screenshot of the requests page (zh-CN)
is taken here."""

from __future__ import annotations

import re
from contextlib import closing

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from audit.search import EventFilter, list_events
from catalog.access_requests import AccessRequest
from tests.gateway.web.console.conftest import SCREENSHOTS, LiveConsole, browser_sign_in, offline

DIBAO = "civil.dibao_recipients"
CASE = "JW-2026-314"
JOURNEY_CASE = "JW-2026-315"  # grants hold for one case: the journey's own
MASKED_PHONE = re.compile(r"^1\d{2}\*{4}\d{4}$")
CLEAR_PHONE = re.compile(r"^1[3-9]\d{9}$")
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def _ask(live: LiveConsole, client: httpx.Client, csrf: str, justification: str = "dup") -> str:
    answer = client.post("/console/requests", data={
        "csrf_token": csrf, "dataset": DIBAO, "fields": ["phone"], "purpose": "supervision",
        "case_ref": CASE, "justification": justification, "days": "7"})  # fmt: skip
    assert answer.status_code == 303, answer.text[:300]
    with live.gw.services.sessions() as session:
        newest = max(session.query(AccessRequest).filter_by(requester="alice").all(),
                     key=lambda r: r.created_at)  # fmt: skip
        return newest.id


def _types(live: LiveConsole, request_id: str) -> list[str]:
    found = list_events(store=live.gw.services.audit.store,
                        filters=EventFilter(type="access.*"), limit=200)["items"]  # fmt: skip
    return [e["type"] for e in found if e["details"].get("access_request") == request_id]


def _query_phones(page: Page, live: LiveConsole, *, unmask: bool) -> list[str] | None:
    """alice's preview of phone numbers (None when refused)."""
    page.goto(f"{live.base}/console/query/{DIBAO}")
    if unmask:
        page.locator("#query-form input[name=unmask][value=phone]").check()
    page.get_by_label("案件编号").fill(JOURNEY_CASE)
    page.get_by_role("button", name="预览").click()
    results = page.locator("#results table.rows, #results.refused")
    expect(results.first).to_be_visible()
    if page.locator("#results.refused").count():
        return None
    headers = [h.split()[0] for h in page.locator("#results table.rows thead th").all_inner_texts()]
    at = headers.index("phone") + 1
    cells = page.locator(f"#results table.rows tbody tr td:nth-child({at})").all_inner_texts()
    return [c.strip() for c in cells]


def _signed_in(browser: Browser, live: LiveConsole, subject: str) -> tuple[BrowserContext, Page,
                                                                            list[str]]:  # fmt: skip
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = offline(page, live.base)
    browser_sign_in(page, live, subject)
    return context, page, errors


def test_alice_asks_carl_approves_then_revokes(live: LiveConsole, browser: Browser) -> None:
    alice_ctx, alice, alice_errors = _signed_in(browser, live, "alice")
    carl_ctx, carl, carl_errors = _signed_in(browser, live, "carl")
    try:
        # refused when asking for clear phones; the refusal offers a pre-filled request
        assert _query_phones(alice, live, unmask=True) is None
        alice.locator("#ask-access").click()
        expect(alice.locator("#request-form input[name=fields][value=phone]")).to_be_checked()
        expect(alice.locator("#case_ref")).to_have_value(JOURNEY_CASE)
        alice.get_by_label("申请理由").fill("核实疑似重复领取对象的联系方式")
        alice.get_by_role("button", name="提交申请").click()
        alice.wait_for_url(f"{live.base}/console/requests")
        mine = alice.locator("#mine tbody tr", has_text=JOURNEY_CASE)
        expect(mine).to_contain_text("待审批")

        # carl sees it waiting, with its case reference, and approves with a comment
        carl.get_by_role("link", name="授权申请", exact=True).click()
        waiting = carl.locator("#waiting article", has_text=JOURNEY_CASE)
        expect(waiting).to_contain_text("alice")
        expect(waiting).to_contain_text("0/1")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        carl.screenshot(path=str(SCREENSHOTS / "requests.png"), full_page=True)
        waiting.get_by_label("审批意见").first.fill("同意，限本案使用")
        waiting.get_by_role("button", name=re.compile("^批准")).click()
        expect(carl.locator("#decided tbody tr", has_text=JOURNEY_CASE)).to_contain_text("已批准")

        # alice sees the outcome, and the phone numbers in clear
        alice.reload()
        mine = alice.locator("#mine tbody tr", has_text=JOURNEY_CASE)
        expect(mine).to_contain_text("已批准")
        expect(mine).to_contain_text("carl")
        phones = _query_phones(alice, live, unmask=True)
        assert phones and all(CLEAR_PHONE.match(p) for p in phones), phones

        # carl revokes; alice's clear view ends (refused), her plain query is masked again
        carl.reload()
        row = carl.locator("#decided tbody tr", has_text=JOURNEY_CASE)
        row.get_by_label("审批意见").fill("案件已办结")
        row.get_by_role("button", name=re.compile("^撤销")).click()
        expect(carl.locator("#decided tbody tr", has_text=JOURNEY_CASE)).to_contain_text("已撤销")
        assert _query_phones(alice, live, unmask=True) is None
        masked = _query_phones(alice, live, unmask=False)
        assert masked and all(MASKED_PHONE.match(p) for p in masked), masked
        alice.goto(f"{live.base}/console/requests")
        expect(alice.locator("#mine tbody tr", has_text=JOURNEY_CASE)).to_contain_text("已撤销")
    finally:
        alice_ctx.close()
        carl_ctx.close()
    for errors in (alice_errors, carl_errors):
        assert not [e for e in errors if "Content Security Policy" in e], errors


@pytest.mark.parametrize("subject", ["alice", "carl", "sam", "root"])
def test_requests_pages_and_forms_are_refused_to_other_roles(live: LiveConsole,
                                                             subject: str) -> None:  # fmt: skip
    alice, alice_csrf = live.sign_in("alice")
    with closing(alice):
        rejected, approved = _ask(live, alice, alice_csrf), _ask(live, alice, alice_csrf)
    client, csrf = live.sign_in(subject)
    matrix = [
        ("GET", "/console/requests", {}, {"alice", "carl"}),
        ("GET", f"/console/requests/new?dataset={DIBAO}", {}, {"alice"}),
        ("POST", "/console/requests", {"dataset": DIBAO, "fields": "phone", "days": "7",
                                       "purpose": "supervision", "case_ref": CASE,
                                       "justification": "x"}, {"alice"}),
        ("POST", f"/console/requests/{rejected}/reject", {"comment": "no"}, {"carl"}),
        ("POST", f"/console/requests/{approved}/approve", {"comment": "ok"}, {"carl"}),
        # the API's rule: the requester or a steward of the department; none left active
        ("POST", f"/console/requests/{approved}/revoke", {"comment": "done"}, {"alice", "carl"}),
    ]  # fmt: skip
    with closing(client):
        for method, path, data, allowed in matrix:
            if method == "GET":
                answer = client.get(path)
            else:
                answer = client.post(path, data={**data, "csrf_token": csrf})
            if subject in allowed:
                assert answer.status_code in (200, 303), (subject, path, answer.text[:300])
            else:
                assert answer.status_code == 403, (subject, path, answer.status_code)
                assert "text/html" in answer.headers["content-type"]
        menu = client.get("/console").text
        assert ('href="/console/requests"' in menu) == (subject in {"alice", "carl"})


def test_csrf_less_decisions_are_refused_and_decisions_are_on_record(live: LiveConsole) -> None:
    alice, alice_csrf = live.sign_in("alice")
    carl, carl_csrf = live.sign_in("carl")
    with closing(alice), closing(carl):
        request_id = _ask(live, alice, alice_csrf, justification=HOSTILE)
        approve = f"/console/requests/{request_id}/approve"
        assert carl.post(approve, data={"comment": "ok"}).status_code == 403
        assert carl.post(approve, data={"comment": "ok", "csrf_token": "x" * 43}).status_code == 403
        assert alice.post("/console/requests", data={"dataset": DIBAO}).status_code == 403
        # the hostile justification is text on carl's page
        page = carl.get("/console/requests").text
        assert "<script>window.__pwned" not in page and "&lt;script&gt;" in page
        # the requester cannot approve her own request (the service's rule, 403)
        own = alice.post(approve, data={"csrf_token": alice_csrf})
        assert own.status_code == 403
        assert carl.post(approve, data={"comment": "verified", "csrf_token": carl_csrf}
                         ).status_code == 303  # fmt: skip
        again = carl.post(approve, data={"csrf_token": carl_csrf})
        assert again.status_code == 409  # as the API: not pending any more
        revoke = f"/console/requests/{request_id}/revoke"
        assert carl.post(revoke, data={"comment": "case closed", "csrf_token": carl_csrf}
                         ).status_code == 303  # fmt: skip
    assert sorted(_types(live, request_id)) == [
        "access.approved",
        "access.requested",
        "access.revoked",
    ]
    store = live.gw.services.audit.store
    events = list_events(store=store, filters=EventFilter(type="access.approved"),
                         limit=50)["items"]  # fmt: skip
    mine = [e for e in events if e["details"].get("access_request") == request_id]
    assert mine and mine[0]["actor"]["sub"] == "carl"
    assert mine[0]["details"]["comment"] == "verified"  # the console's only addition


def test_an_l4_request_shows_it_waits_for_a_second_steward(live: LiveConsole) -> None:
    """Runs last in this module: it raises one of the roll's fields to L4."""
    from catalog.models import Dataset

    with live.gw.services.sessions() as session:
        dataset = session.get(Dataset, DIBAO)
        assert dataset is not None
        next(f for f in dataset.fields if f.name == "id_number").level = "L4"
        session.commit()
    alice, alice_csrf = live.sign_in("alice")
    carl, carl_csrf = live.sign_in("carl")
    with closing(alice), closing(carl):
        answer = alice.post("/console/requests", data={
            "csrf_token": alice_csrf, "dataset": DIBAO, "fields": ["id_number"],
            "purpose": "supervision", "case_ref": "JW-2026-404", "justification": "L4",
            "days": "3"})  # fmt: skip
        assert answer.status_code == 303
        with live.gw.services.sessions() as session:
            req = session.query(AccessRequest).filter_by(case_ref="JW-2026-404").one()
            request_id, required = req.id, req.required_approvals
        assert required == 2
        approved = carl.post(f"/console/requests/{request_id}/approve",
                             data={"csrf_token": carl_csrf})  # fmt: skip
        assert approved.status_code == 303
        waiting = carl.get("/console/requests").text
        theirs = alice.get("/console/requests").text
        for page in (waiting, theirs):
            row = page[page.index(f'id="req-{request_id}"') :][:3000]
            assert "1/2 (carl)" in row and "L4 数据需第二位管理员审批" in row
            assert "待审批" in row
        assert "您已批准，等待另一位管理员审批。" in waiting
        # carl cannot be the second approver
        assert carl.post(f"/console/requests/{request_id}/approve",
                         data={"csrf_token": carl_csrf}).status_code == 403  # fmt: skip
