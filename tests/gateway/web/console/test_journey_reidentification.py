"""Issue 15 in the console, in Debian's Chromium on an offline network: dora selects two
hits of her run and asks for their identities; carl (civil affairs) and fiona (finance)
each approve for their department on the requests page; dora then sees the two real ID
numbers on the run's page, and only those. Over HTTP: the forms need CSRF, and another
analyst cannot reach the run."""

from __future__ import annotations

import re
from contextlib import closing

from playwright.sync_api import Browser, BrowserContext, Page, expect

from catalog.reidentifications import ReidentificationRequest
from tests.gateway.comparison_env import run_to_end
from tests.gateway.web.console.conftest import LiveConsole, browser_sign_in, offline

MODEL = "demo.payroll_on_dibao"
ID_NUMBER = re.compile(r"^\d{17}[\dX]$")


def _signed_in(browser: Browser, live: LiveConsole,
               subject: str) -> tuple[BrowserContext, Page, list[str]]:  # fmt: skip
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = offline(page, live.base)
    browser_sign_in(page, live, subject)
    return context, page, errors


def _approve(browser: Browser, live: LiveConsole, subject: str, request_id: str) -> None:
    context, page, errors = _signed_in(browser, live, subject)
    try:
        page.goto(f"{live.base}/console/requests")
        card = page.locator(f"#reid-waiting #req-{request_id}")
        expect(card).to_be_visible()
        card.get_by_role("button", name=f"批准 {request_id}").click()
        page.wait_for_url(f"{live.base}/console/requests")
        assert not errors, errors
    finally:
        context.close()


def test_dora_asks_both_departments_approve_dora_sees_the_identities(
    live: LiveConsole, browser: Browser
) -> None:
    run = run_to_end(live.gw, "dora", MODEL)
    assert run["status"] == "done" and run["hits"] >= 3, run
    page_url = f"{live.base}/console/comparisons/runs/{run['id']}"
    context, dora, errors = _signed_in(browser, live, "dora")
    try:
        dora.goto(page_url)
        dora.get_by_label("选择 1", exact=True).check()
        dora.get_by_label("选择 2", exact=True).check()
        dora.get_by_label("申请理由").fill("立案核查")
        dora.locator("#reid-submit").click()
        dora.wait_for_url(re.compile(r".*asked=1$"))
        with live.gw.services.sessions() as session:
            asked = session.query(ReidentificationRequest).filter_by(run_id=run["id"]).one()
            request_id, hits = asked.id, list(asked.hit_ids)
        assert hits == [1, 2]
        expect(dora.locator("#identities")).to_contain_text("没有已批准")

        _approve(browser, live, "carl", request_id)
        _approve(browser, live, "fiona", request_id)

        dora.goto(page_url)
        dora.locator("#show-identities").click()
        rows = dora.locator("#released tbody tr")
        expect(rows).to_have_count(2)
        headers = dora.locator("#released thead th").all_inner_texts()
        at = [i for i, h in enumerate(headers) if h.endswith(".reidentified")]
        assert at, headers
        for r in range(2):
            cells = rows.nth(r).locator("td").all_inner_texts()
            assert all(ID_NUMBER.match(cells[i].strip()) for i in at), cells
        assert not errors, errors
    finally:
        context.close()


def test_the_forms_need_csrf_and_the_run_is_its_owners(live: LiveConsole) -> None:
    run = run_to_end(live.gw, "dora", MODEL)
    client, csrf = live.sign_in("dora")
    with closing(client):
        no_csrf = client.post(f"/console/comparisons/runs/{run['id']}/reidentify",
                              data={"hits": "1", "purpose": "supervision", "case_ref": "x",
                                    "justification": "y"})  # fmt: skip
        assert no_csrf.status_code == 403
        lead = client.post(f"/console/comparisons/runs/{run['id']}/leads",
                           data={"csrf_token": csrf, "hit_id": "1", "state": "confirmed",
                                 "note": "核实", "rectified_on": ""})  # fmt: skip
        assert lead.status_code == 303, lead.text[:300]
        page = client.get(f"/console/comparisons/runs/{run['id']}")
        assert "已确认 1" in page.text
    other, _ = live.sign_in("alice")
    with closing(other):
        assert other.get(f"/console/comparisons/runs/{run['id']}").status_code == 404


def test_schedules_are_listed_under_their_model(live: LiveConsole) -> None:
    body = {"region": "430121", "every": "weekly", "purpose": "supervision",
            "case_ref": "JW-SCHED-CONSOLE"}  # fmt: skip
    made = live.gw.client.post(f"/api/v1/comparison-models/{MODEL}/schedules", json=body,
                               headers=live.gw.headers("alice"))  # fmt: skip
    assert made.status_code == 201, made.text
    client, _ = live.sign_in("alice")
    with closing(client):
        page = client.get("/console/comparisons")
        assert page.status_code == 200
        table = page.text.split(f'id="schedules-{MODEL}"', 1)
        assert len(table) == 2 and "JW-SCHED-CONSOLE" in table[1] and "每周" in table[1]
    other, _ = live.sign_in("dora")
    with closing(other):
        assert "JW-SCHED-CONSOLE" not in other.get("/console/comparisons").text
