"""Red team 66, as an analyst whose long console download is cut by her own next click
(denial of service; the console's session check in flight, red team 65).

Since red team 65 a console download in flight stops when the session it was asked in
ends (``caller.in_session``: ``SessionStore.live``, the session's row still there). The
check neither judges the session idle nor touches it ("a long download is no idle
session"), but the rest of the console does judge it: ``SessionStore.find`` deletes a
session unused for ``idle_timeout_s`` (30 minutes), and its ``last_seen_at`` moved only
with pages. So after half an hour of downloading — a large table over a slow link — the
first page dora opened in another tab found the session idle and deleted it, she was
signed out while using the console, and her download, which the session check then found
ended, was cut (``unauthenticated``), though nothing about her access had changed.

Attack: dora starts a console download of the 200,000-row table and reads a little; the
clock of the console's sessions moves on 31 minutes while it runs (as a long download
would take) and she reads on; she opens the console's home page; she reads the rest.

Expected: the download counts as use of its session: the page is served (she is still
signed in) and the download runs to its last row (``completed``). On the embedded
default and on PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gateway.web.console.sessions import SessionStore
from tests.attacks.live_gateway import BIG_ROWS, GOVERN_S, Live, console_stream, ended
from tests.attacks.test_redteam4_analyst_access_mid_stream import live

__all__ = ["live"]  # the shared module fixture


@pytest.fixture
def sessions(live: Live) -> Iterator[SessionStore]:
    store: SessionStore = live.app.state.console.sessions
    clock = store._clock
    try:
        yield store
    finally:
        store._clock = clock


def test_a_long_download_keeps_its_session_in_use(live: Live, sessions: SessionStore) -> None:
    begun = console_stream(live, "dora")
    stream, cookie = begun.stream, begun.cookie
    sessions._clock = lambda: datetime.now(UTC) + timedelta(minutes=31)  # the download's time
    time.sleep(2 * GOVERN_S)  # past the re-check interval
    stream.read(5_000_000)  # the download in use meanwhile: batches taken, re-checked
    page = httpx.get(f"{live.base}/console", headers={"Cookie": cookie}, timeout=30)
    assert page.status_code == 200, (page.status_code, page.headers.get("location"))
    time.sleep(2 * GOVERN_S)
    stream.read_to_the_end()
    end = ended(live, stream.headers["x-request-id"])
    assert end["type"] == "query.completed", (end["type"], end["rows"], end["details"])
    assert end["rows"] == BIG_ROWS, end["rows"]
