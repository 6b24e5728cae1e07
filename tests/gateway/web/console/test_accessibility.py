"""Issue 14, accessibility basics: every console page each role may open, checked by
axe-core (from the npm registry, ``make install``) in Debian's Chromium — no serious or
critical violation (labels on every control, contrast, landmarks, the page language…)
— and the sign-in and query forms used with the keyboard alone (Tab, then Enter).

axe is injected into the page by Playwright from ``node_modules`` in a context that
bypasses the CSP for that one script; the pages themselves are served as always.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.gateway.web.console.conftest import LiveConsole, browser_sign_in, offline

AXE = Path(__file__).resolve().parents[4] / "node_modules" / "axe-core" / "axe.min.js"
DIBAO = "civil.dibao_recipients"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = ("serious", "critical")

# every page a role may open (GET), beyond home and the catalog, which everyone may
PAGES: dict[str, list[str]] = {
    "alice": ["/console/query", f"/console/query/{DIBAO}", "/console/requests",
              f"/console/requests/new?dataset={DIBAO}", "/console/requests/new",
              "/console/comparisons"],
    "carl": ["/console/requests", "/console/sources", "/console/sources/civil-db",
             "/console/sources/civil-db?introspect=true", f"/console/sources/entries/{DIBAO}",
             *[f"/console/sources/new?kind={k}"
               for k in ("sqlite", "postgresql", "mysql", "csv", "parquet", "http")]],
    "sam": ["/console/audit", "/console/audit/alerts", "/console/audit/actions",
            "/console/audit/charts"],
    "root": ["/console/admin", "/console/admin/users/alice", "/console/audit"],
}  # fmt: skip
EVERYONE = ["/console", "/console/catalog", f"/console/catalog/{DIBAO}",
            "/console/catalog?q=%E4%BD%8E%E4%BF%9D"]  # fmt: skip


def _violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it stands."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))",
        TAGS,
    )
    return [v for v in found if v["impact"] in BLOCKING]


# The page as it will stay: loaded (scripts and styles run), no htmx request in flight,
# and the audit charts, the one thing a console page fetches after its load, drawn (or
# failed). "networkidle" waited for the same plus half a second of silence, on every page.
SETTLED = (
    "() => document.readyState === 'complete'"
    " && !document.querySelector('.htmx-request')"
    " && !document.querySelector('#audit-charts:not([data-drawn]):not([data-error])')"
)


def _check(page: Page, where: str, problems: dict[str, Any]) -> None:
    page.wait_for_function(SETTLED)
    found = _violations(page)
    if found:
        problems[where] = found


def _first_event_link(page: Page) -> str | None:
    link = page.locator("#timeline tbody a[href^='/console/audit/events/']").first
    return link.get_attribute("href") if link.count() else None


@pytest.mark.parametrize("subject", ["alice", "carl", "sam", "root"])
def test_every_page_of_every_role_passes_axe(live: LiveConsole, browser: Browser,
                                             subject: str) -> None:  # fmt: skip
    assert AXE.is_file(), "axe-core is missing: `make install` (npm ci) installs it"
    context = browser.new_context(locale="zh-CN", bypass_csp=True,
                                  viewport={"width": 1280, "height": 900})  # fmt: skip
    page = context.new_page()
    offline(page, live.base)
    problems: dict[str, Any] = {}
    if subject == "sam":  # an open alert, so home and the alerts page show their forms
        for _ in range(6):
            live.gw.query("arthur", DIBAO, {"fields": ["region_code"], "purpose": "marketing"})
    try:
        page.goto(f"{live.base}/console/sign-in")
        _check(page, "/console/sign-in", problems)
        browser_sign_in(page, live, subject)
        for path in [*EVERYONE, *PAGES[subject]]:
            answer = page.goto(live.base + path)
            assert answer is not None and answer.status == 200, (subject, path)
            _check(page, path, problems)
        if subject == "alice":  # the results and a refusal, as htmx puts them in the page
            page.goto(f"{live.base}/console/query/{DIBAO}")
            page.get_by_label("案件编号").fill("JW-A11Y-1")
            page.get_by_role("button", name="预览").click()
            expect(page.locator("#results table.rows")).to_be_visible()
            _check(page, "query results", problems)
            page.locator("#query-form input[name=unmask][value=phone]").check()
            page.get_by_role("button", name="预览").click()
            expect(page.locator("#results.refused")).to_be_visible()
            _check(page, "query refused", problems)
        if subject == "sam":
            page.goto(f"{live.base}/console")
            expect(page.locator("form.inline-form").first).to_be_visible()
            _check(page, "home with an open alert", problems)
            page.goto(f"{live.base}/console/audit")
            event = _first_event_link(page)
            assert event, "no event in the timeline"
            page.goto(live.base + event)
            _check(page, "event detail", problems)
            page.goto(f"{live.base}/console/audit")
            page.get_by_role("button", name="校验", exact=True).click()
            expect(page.locator("#verify-result")).to_be_visible()
            _check(page, "verify result", problems)
        page.goto(f"{live.base}/console?lang=en")  # the English pages, then back
        _check(page, "/console?lang=en", problems)
        page.goto(f"{live.base}/console?lang=zh-CN")
        # the check itself can fail: a control without a label is caught
        page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend',"
                      " '<input id=unlabelled>')")  # fmt: skip
        assert "label" in {v["id"] for v in _violations(page)}
    finally:
        context.close()
    assert not problems, problems


def _tab_to(page: Page, element_id: str, limit: int = 60) -> None:
    """Press Tab until the element has the focus (the order is the page's own)."""
    for _ in range(limit):
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} is not reachable with Tab")


def test_sign_in_and_query_with_the_keyboard_alone(live: LiveConsole, browser: Browser) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = offline(page, live.base)
    try:
        page.goto(f"{live.base}/console/sign-in")
        assert page.evaluate("document.activeElement.id") == "username"  # autofocus
        page.keyboard.type("alice")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "password"
        page.keyboard.type(live.passwords["alice"])
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live.base}/console")

        page.goto(f"{live.base}/console/query/{DIBAO}")
        page.keyboard.press("Tab")  # the first stop skips the menu to the page itself
        assert page.evaluate("document.activeElement.className") == "skip-link"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        _tab_to(page, "field-1")  # the field checkboxes: Space toggles one
        page.keyboard.press("Space")
        assert not page.locator("#field-1").is_checked()
        page.keyboard.press("Space")
        _tab_to(page, "case_ref")
        page.keyboard.type("JW-KEY-1")
        page.keyboard.press("Enter")
        expect(page.locator("#results table.rows")).to_be_visible()
        expect(page.locator("#results")).to_contain_text(re.compile(r"430121"))
    finally:
        context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
