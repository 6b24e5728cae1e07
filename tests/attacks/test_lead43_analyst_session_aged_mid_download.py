"""Red team 65's left row 4, closed by the lead (stop 43): whoever holds a copy of an
analyst's console cookie, downloading past the session's maximum age.

Rule: a console session ends ``max_session_s`` after its sign-in however busy, so a
copied cookie kept in use does not live for ever (``gateway.web.console.sessions``); a
result in flight stops with its session (red team 65: a sign-out, a password reset, a
suspension).

Attack: red team 65's check asked only whether the session's row was still there. Rows
are deleted when a request finds the session over, and a download makes no request: a
download started late in the session's life ran on past its end, to its last row,
``completed``.

Expected: past the session's maximum age the rest is refused and the end is on record
as aborted. The session store's clock is moved on twelve hours (the test cannot wait
them). On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from gateway.web.console.sessions import SessionStore
from tests.attacks.live_gateway import GOVERN_S, Live, console_stream, ended
from tests.attacks.test_redteam4_analyst_access_mid_stream import live
from tests.attacks.test_redteam66_analyst_long_download_judged_idle import sessions

__all__ = ["live", "sessions"]  # the shared fixtures


def test_a_session_past_its_maximum_age_stops_its_download(
    live: Live, sessions: SessionStore
) -> None:
    stream = console_stream(live, "dora").stream
    sessions._clock = lambda: datetime.now(UTC) + timedelta(hours=13)
    time.sleep(2 * GOVERN_S)  # past the re-check interval
    stream.read_to_the_end()
    end = ended(live, stream.headers["x-request-id"])
    assert end["type"] == "query.aborted", (end["type"], end["rows"], end["details"])
