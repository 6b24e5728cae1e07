"""Red team 8, as an analyst: the console's query page shows rows after an officer
suspended the analyst, or froze the entry, while they were read.

The console's preview (``POST /console/query/{id}/preview``, the query page's results)
takes the broker's answer whole and renders it; unlike the API's answer and the
console's own download it read nothing again after the account was read at the start:
a read that waits (a busy source, a scan under a filter) is rendered after the officer
acted. dora previews the allowance roll; while civil's file is held (a writer stands
for the slow read), sam suspends her or freezes the roll; the page still lists the rows.

Expected: governed as a download is (``routes.streaming.take_whole``): no row on the
page, the query on record as aborted.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest

from gateway.web.routes.streaming import RECHECK_S
from tests import live_http
from tests.attacks.live_gateway import Live, wait_for
from tests.attacks.test_redteam8_analyst_console_comparison import (  # noqa: F401 (fixture)
    _civil_file,
    _events,
    _signed_in,
    live,
)

DIBAO = "civil.dibao_recipients"
PREVIEW = {"fields": ["name", "region_code"], "purpose": "supervision",
           "case_ref": "JW-PRE-8", "page_size": "20"}  # fmt: skip


@pytest.mark.parametrize(
    "officer_acts", ["users/dora/suspend", f"datasets/{DIBAO}/freeze"], ids=["suspend", "freeze"]
)
def test_no_row_is_shown_after_the_officer_acted(
    live: tuple[Live, str],  # noqa: F811 (the fixture imported above)
    officer_acts: str,
) -> None:
    server, password = live
    client, csrf = _signed_in(server, password)
    warm = client.post(f"/console/query/{DIBAO}/preview", data={**PREVIEW, "csrf_token": csrf})
    assert warm.status_code == 200, warm.text[:300]
    shown = warm.text.count("<tr")
    assert shown > 1, "the preview shows rows before the officer acts"
    for app in (server.app, server.gw.client.app):  # idle pooled readers share the lock
        app.state.broker.sources.close()
    writer = sqlite3.connect(_civil_file(server), isolation_level=None,
                             check_same_thread=False, timeout=10)  # fmt: skip
    writer.execute("PRAGMA locking_mode=EXCLUSIVE")
    writer.execute("BEGIN EXCLUSIVE")  # civil's readers wait (busy timeout) from here
    seen = {e["event_id"] for e in _events(server, "query.started")}
    answer: dict[str, Any] = {}

    def preview() -> None:
        answer["resp"] = client.post(f"/console/query/{DIBAO}/preview",
                                     data={**PREVIEW, "csrf_token": csrf})  # fmt: skip

    def reading() -> bool:
        return any(e["event_id"] not in seen for e in _events(server, "query.started"))

    previewing = threading.Thread(target=preview)
    previewing.start()
    try:
        wait_for(reading, "dora's preview to start reading civil's file")
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
        previewing.join(60)
        client.close()
    resp = answer["resp"]
    assert resp.text.count("<tr") < shown, (resp.status_code, resp.text[:500])
    assert _events(server, "query.aborted"), "the query's end is on record as aborted"
