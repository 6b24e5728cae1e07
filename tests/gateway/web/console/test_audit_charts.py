"""Issue 14, the audit page's charts, in Debian's Chromium under the strict CSP: the
three Apache ECharts charts — queries and denials per day, rows released per
department, alerts per rule — are drawn, each from the server's numbers: what the
charts hold is what ``charts.json`` says, and that is what the trail holds (today's
starts and denials, the rows alice was sent, the alert her denials raised)."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import Browser, expect

from audit.search import EventFilter, list_events
from tests.gateway.web.console.conftest import LiveConsole, browser_sign_in, offline

DIBAO = "civil.dibao_recipients"
CHARTS = {"per-day": "chart-per-day", "released": "chart-released", "alerts": "chart-alerts"}
DRAWN = """(id) => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  if (!chart) return null;
  const option = chart.getOption();
  return {labels: option.xAxis[0].data, series: option.series.map(s => s.data)};
}"""


def _activity(live: LiveConsole) -> int:
    """alice: two previews (rows released) and six refusals (a repeated_denials alert)."""
    client, csrf = live.sign_in("alice")
    with closing(client):
        for page in ("1", "2"):
            answer = client.post(f"/console/query/{DIBAO}/preview", data={
                "csrf_token": csrf, "fields": ["name", "region_code"], "purpose": "supervision",
                "case_ref": "JW-CHART-1", "page_size": "20", "page": page})  # fmt: skip
            assert answer.status_code == 200, answer.text[:300]
    for _ in range(6):
        refused = live.gw.query("alice", DIBAO, {"fields": ["name"], "purpose": "marketing"})
        assert refused.status_code == 403
    done = list_events(store=live.gw.services.audit.store,
                       filters=EventFilter(actor="alice", type="query.completed"),
                       limit=100)["items"]  # fmt: skip
    rows = sum(int(e.get("rows") or 0) for e in done)
    assert rows > 0
    return rows


def _today_counts(live: LiveConsole) -> tuple[int, int]:
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    store = live.gw.services.audit.store
    items = list_events(store=store, filters=EventFilter(type="query.*", since=start),
                        limit=1000)["items"]  # fmt: skip
    started = sum(1 for e in items if e["type"] == "query.started")
    denied = sum(1 for e in items if e["type"] == "query.denied" or e.get("outcome") == "denied")
    return started, denied


def test_the_three_charts_are_drawn_from_the_servers_numbers(
    live: LiveConsole, browser: Browser
) -> None:
    released = _activity(live)
    started, denied = _today_counts(live)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = offline(page, live.base)
    try:
        browser_sign_in(page, live, "sam")
        page.goto(f"{live.base}/console/audit/charts")
        expect(page.locator("#audit-charts")).to_have_attribute("data-drawn", "true")
        drawn: dict[str, Any] = {}
        for name, element in CHARTS.items():
            expect(page.locator(f"#{element} svg")).to_be_visible()
            drawn[name] = page.evaluate(DRAWN, element)
            assert drawn[name] is not None, name
        served = page.evaluate("async () => (await fetch('/console/audit/charts.json')).json()")
    finally:
        context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors

    # the charts hold exactly the server's numbers
    per_day = served["per_day"]
    assert drawn["per-day"] == {"labels": per_day["labels"],
                                "series": [per_day["queries"], per_day["denials"]]}  # fmt: skip
    assert drawn["released"] == {"labels": served["released"]["labels"],
                                 "series": [served["released"]["values"]]}  # fmt: skip
    assert drawn["alerts"] == {"labels": served["alerts"]["labels"],
                               "series": [served["alerts"]["values"]]}  # fmt: skip
    # and those are the trail's: today's starts and denials, alice's rows, her alert
    today = datetime.now(UTC).date().isoformat()
    assert per_day["labels"][-1] == today
    assert started >= 2 and denied >= 6
    assert (per_day["queries"][-1], per_day["denials"][-1]) == (started, denied)
    by_dept = dict(zip(served["released"]["labels"], served["released"]["values"], strict=True))
    assert by_dept["civil"] == released
    assert "repeated_denials" in served["alerts"]["labels"]
