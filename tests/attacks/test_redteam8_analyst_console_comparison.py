"""Red team 8, as an analyst: the console's ad-hoc comparison shows its matches after an
officer suspended the analyst, or revoked her grants, while the sides were read.

``POST /api/v1/comparisons`` is governed while it is produced (red team 4: each side
decided again, the account read again, before the headers leave), but the console's
comparison page (``POST /console/comparisons/run``) takes the same comparer's answer
whole in the request's thread and renders it: both sides are read whole first (seconds
on large entries), and nothing read the account or the entries again before the matches
were shown. dora compares payroll with the allowance roll in the console; while civil's
side is read, sam suspends her, or freezes the roll; the page still lists the matches
(200).

civil's SQLite file is held by a writer (as a busy source holds a read) so the side read
waits until the officer has acted.

Expected: the matches are shown only if the account is still allowed them once they are
made: no match on the page, the comparison on record as aborted (account_disabled,
dataset_frozen).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from audit.search import EventFilter, list_events
from catalog.demo.users import DEMO_USERS
from catalog.models import Source
from gateway.web.console.passwords import set_demo_passwords
from gateway.web.routes.streaming import RECHECK_S
from tests import live_http
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.live_gateway import Live, serve, wait_for
from tests.live_http import SHORT_KEEPALIVE

COMPARE = {
    "left_dataset": "finance.payroll", "left_key": "id_number", "left_fields": "name",
    "right_dataset": "civil.dibao_recipients", "right_key": "id_number",
    "right_fields": "region_code", "purpose": "supervision", "case_ref": "JW-CMP-8",
    "page_size": "20", "page": "1",
}  # fmt: skip
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.fixture(params=KINDS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Live, str]]:
    with (
        open_deployment(request.param, tmp_path, db_prefix="sluice_rt8_console") as gw,
        serve(gw) as server,
    ):
        passwords = set_demo_passwords(server.app.state.console.accounts,
                                       [u["subject"] for u in DEMO_USERS])  # fmt: skip
        yield server, passwords["dora"]


def _signed_in(live: Live, password: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=live.base, follow_redirects=False, timeout=60,
                          limits=SHORT_KEEPALIVE)  # fmt: skip
    page = client.get("/console/sign-in")
    token = _CSRF_FIELD.search(page.text)
    assert token is not None, page.text[:300]
    answer = client.post("/console/sign-in", data={
        "csrf_token": token.group(1), "username": "dora", "password": password})  # fmt: skip
    assert answer.status_code == 303, answer.text[:300]
    csrf = _CSRF_META.search(client.get("/console").text)
    assert csrf is not None
    return client, csrf.group(1)


def _events(live: Live, type_: str) -> list[dict[str, Any]]:
    page = list_events(store=live.gw.services.audit.store, filters=EventFilter(), limit=500,
                       order="desc")  # fmt: skip
    return [e for e in page["items"] if e["type"] == type_]


def _civil_file(live: Live) -> str:
    with live.gw.services.sessions() as session:
        source = session.get(Source, "civil-db")
        assert source is not None
        return str(make_url(source.settings["url"]).database)


@pytest.mark.parametrize(
    "officer_acts",
    ["users/dora/suspend", "datasets/civil.dibao_recipients/freeze"],
    ids=["suspend", "freeze"],
)
def test_no_match_is_shown_after_the_officer_acted(
    live: tuple[Live, str], officer_acts: str
) -> None:
    server, password = live
    client, csrf = _signed_in(server, password)
    warm = client.post("/console/comparisons/run", data={**COMPARE, "csrf_token": csrf})
    assert warm.status_code == 200, warm.text[:300]
    matches = warm.text.count("<tr")
    assert matches > 1, "the comparison shows matches before the officer acts"
    for app in (server.app, server.gw.client.app):  # idle pooled readers share the lock
        app.state.broker.sources.close()
    writer = sqlite3.connect(_civil_file(server), isolation_level=None,
                             check_same_thread=False, timeout=10)  # fmt: skip
    writer.execute("PRAGMA locking_mode=EXCLUSIVE")
    writer.execute("BEGIN EXCLUSIVE")  # civil's readers wait (busy timeout) from here
    seen = {e["event_id"] for e in _events(server, "query.started")}
    answer: dict[str, Any] = {}

    def compare() -> None:
        answer["resp"] = client.post("/console/comparisons/run",
                                     data={**COMPARE, "csrf_token": csrf})  # fmt: skip

    def reading_civil() -> bool:
        return any(e["event_id"] not in seen and "civil" in str(e["resource"])
                   for e in _events(server, "query.started"))  # fmt: skip

    comparing = threading.Thread(target=compare)
    comparing.start()
    try:
        wait_for(reading_civil, "dora's comparison to read civil's side")
        acted = live_http.post(f"{server.base}/api/v1/{officer_acts}",
                           json={"reason": "bulk pull alert"},
                           headers={"Authorization": f"Bearer {server.gw.token('sam')}"},
                           timeout=30)  # fmt: skip
        assert acted.status_code == 200, acted.text
        # the read is held until past the recheck window: a result whose account read is
        # younger than RECHECK_S leaves unread again (a race the design accepts), and a
        # fast machine acted within it, so the page was rightly served
        time.sleep(2 * RECHECK_S)
    finally:
        writer.execute("ROLLBACK")
        writer.close()  # the lock goes with the connection (exclusive locking mode)
        comparing.join(60)
        client.close()
    resp = answer["resp"]
    assert resp.text.count("<tr") < matches, (resp.status_code, resp.text[:500])
    assert _events(server, "comparison.aborted"), "the comparison's end is on record as aborted"
