"""Home, per role (issue 14): a steward sees the drift on their department's sources
(the refresh's own comparison, changing nothing) and it clears once they follow it; a
security officer acknowledges an open alert straight from home — in Chromium, through
the alerts page's own route (the API's handler and record) — while every other role's
post is refused (403), and a post without the session's CSRF token too."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from audit.search import EventFilter, list_events
from catalog.models import Dataset
from gateway.stewardship.registration import watch
from policies.decision import UserContext
from tests.gateway.web.console.conftest import LiveConsole, browser_sign_in, offline

DIBAO = "civil.dibao_recipients"
SOURCE, ENTRY, TABLE = "civil-home-drift", "civil.home_drift", "benefits"
NOTE = "已在核实"


def _sqlite_source(live: LiveConsole) -> Path:
    root = live.gw.settings.demo_data_dir
    root.mkdir(parents=True, exist_ok=True)
    path = root / "home_drift.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, region_code TEXT, amount REAL)")
        db.execute(f"INSERT INTO {TABLE} VALUES (1, '430121', 300.0)")
        db.commit()
    return path


def _drift_panel(text: str) -> str:
    start = text.index('id="drift"')
    return text[start : text.index("</section>", start)]


def test_steward_sees_drift_on_their_sources_until_followed(live: LiveConsole) -> None:
    path = _sqlite_source(live)
    client, csrf = live.sign_in("carl")
    with closing(client):
        made = client.post("/console/sources", data={
            "csrf_token": csrf, "kind": "sqlite", "id": SOURCE, "display_name": "drift",
            "path": str(path)})  # fmt: skip
        assert made.status_code == 303, made.text[:300]
        drafted = client.post(f"/console/sources/{SOURCE}/draft", data={
            "csrf_token": csrf, "object_name": TABLE, "dataset_id": ENTRY,
            "title_zh": "漂移测试", "allowed_purposes": "supervision"})  # fmt: skip
        assert drafted.status_code == 303, drafted.text[:300]
        assert ENTRY not in _drift_panel(client.get("/console").text)

        # the department renames a column and adds one, behind the gateway's back
        with closing(sqlite3.connect(path)) as db:
            db.execute(f"ALTER TABLE {TABLE} RENAME COLUMN amount TO monthly_amount")
            db.execute(f"ALTER TABLE {TABLE} ADD COLUMN bank_card TEXT")
            db.commit()
        panel = _drift_panel(client.get("/console").text)
        assert ENTRY in panel and "monthly_amount" in panel and "bank_card" in panel
        assert "amount" in panel.replace("monthly_amount", "")  # the removed one
        assert f'href="/console/sources/entries/{ENTRY}"' in panel
        with live.gw.services.sessions() as session:  # seeing the drift changed nothing
            entry = session.get(Dataset, ENTRY)
            assert entry is not None
            assert {f.name for f in entry.fields} == {"id", "region_code", "amount"}

        followed = client.post(f"/console/sources/entries/{ENTRY}/refresh",
                               data={"csrf_token": csrf})  # fmt: skip
        assert followed.status_code == 200 and "bank_card" in followed.text
        assert ENTRY not in _drift_panel(client.get("/console").text)

        # a source that cannot be read is said so, without hiding the others
        path.unlink()
        panel = _drift_panel(client.get("/console").text)
        assert ENTRY in panel and "无法读取源" in panel
    for other in ("alice", "sam"):
        client, _ = live.sign_in(other)
        with closing(client):
            assert 'id="drift"' not in client.get("/console").text


def test_drift_watch_keeps_to_its_budget_and_reads_a_failed_source_once(
    live: LiveConsole,
) -> None:
    """Two entries of one source that cannot be read: both are reported with its
    message from one attempt; past the time budget no entry is started."""
    path = live.gw.settings.demo_data_dir / "budget.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, region_code TEXT)")
        db.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, region_code TEXT)")
        db.commit()
    client, csrf = live.sign_in("carl")
    with closing(client):
        made = client.post("/console/sources", data={"csrf_token": csrf, "kind": "sqlite",
                                                     "id": "civil-budget", "display_name": "b",
                                                     "path": str(path)})  # fmt: skip
        assert made.status_code == 303, made.text[:300]
        for table in ("a", "b"):
            drafted = client.post("/console/sources/civil-budget/draft", data={
                "csrf_token": csrf, "object_name": table, "dataset_id": f"civil.budget_{table}",
                "title_zh": table, "allowed_purposes": "supervision"})  # fmt: skip
            assert drafted.status_code == 303, drafted.text[:300]
    path.unlink()
    carl = live.console.directory.resolve(UserContext(subject="carl", department=None, roles=(),
                                                      clearance="L1", jurisdiction=()))  # fmt: skip
    attempts: list[str] = []
    with live.gw.services.sessions() as session:

        def counted(**kwargs: Any) -> Any:
            attempts.append(kwargs["dataset_id"])
            return watch.pending_drift(**kwargs)

        seen = watch.drift_on_my_sources(session=session, services=live.gw.services, user=carl,
                                         check=counted)  # fmt: skip
        problems = {d.dataset_id: d.problem for d in seen.drifted}
        assert (
            problems["civil.budget_a"] and problems["civil.budget_a"] == problems["civil.budget_b"]
        )
        assert attempts.count("civil.budget_a") + attempts.count("civil.budget_b") == 1
        ticks = iter([0.0, 0.0, 10.0, 10.0, 10.0])
        late = watch.drift_on_my_sources(session=session, services=live.gw.services, user=carl,
                                         budget_s=5.0, clock=lambda: next(ticks))  # fmt: skip
        assert late.checked == 1 and late.more


def _raise_denials_alert(live: LiveConsole, subject: str) -> None:
    """``subject`` is refused often enough for a repeated_denials alert."""
    for _ in range(6):
        answer = live.gw.query(subject, DIBAO, {"fields": ["name"], "purpose": "marketing"})
        assert answer.status_code == 403, answer.text[:300]


def _open_alert_id(live: LiveConsole, actor: str) -> str:
    client, _ = live.sign_in("sam")
    with closing(client):
        text = client.get("/console").text
    marker = 'id="home-alert-'
    for chunk in text.split(marker)[1:]:
        alert_id, row = chunk.split('"', 1)
        if actor in row.split("</tr>", 1)[0]:
            return alert_id
    raise AssertionError(f"no open alert about {actor} on sam's home")


@pytest.mark.parametrize("subject", ["alice", "carl"])
def test_only_alert_handlers_acknowledge_from_home(live: LiveConsole, subject: str) -> None:
    _raise_denials_alert(live, "fiona")
    alert_id = _open_alert_id(live, "fiona")
    client, csrf = live.sign_in(subject)
    with closing(client):
        home = client.get("/console").text
        assert f'action="/console/audit/alerts/{alert_id}/acknowledge"' not in home
        answer = client.post(f"/console/audit/alerts/{alert_id}/acknowledge",
                             data={"csrf_token": csrf, "note": "x", "back": "home"})  # fmt: skip
        assert answer.status_code == 403, (subject, answer.status_code)
    assert alert_id == _open_alert_id(live, "fiona")  # still open


def test_sam_acknowledges_an_alert_from_home(live: LiveConsole, browser: Browser) -> None:
    _raise_denials_alert(live, "arthur")
    alert_id = _open_alert_id(live, "arthur")
    client, csrf = live.sign_in("sam")
    with closing(client):  # no CSRF token, a wrong one: refused, the alert stays open
        action = f"/console/audit/alerts/{alert_id}/acknowledge"
        assert client.post(action, data={"note": "x", "back": "home"}).status_code == 403
        assert client.post(action, data={"note": "x", "back": "home",
                                         "csrf_token": "x" * 43}).status_code == 403  # fmt: skip
        assert csrf
    assert alert_id == _open_alert_id(live, "arthur")

    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = offline(page, live.base)
    try:
        browser_sign_in(page, live, "sam")
        row = page.locator(f"#home-alert-{alert_id}")
        expect(row).to_contain_text("repeated_denials")
        row.get_by_label("处理说明").fill(NOTE)
        row.get_by_role("button", name="确认").click()
        page.wait_for_url(f"{live.base}/console#alerts-h")
        expect(page.locator(f"#home-alert-{alert_id}")).to_have_count(0)
    finally:
        context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
    found = EventFilter(actor="sam", type="alert.acknowledged")
    acked = list_events(store=live.gw.services.audit.store, filters=found)["items"]
    mine = [e for e in acked if e["details"]["alert_id"] == alert_id]
    assert mine and mine[0]["details"].get("note") == NOTE, mine
