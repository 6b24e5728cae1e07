"""Red team 65, as whoever holds a copy of an analyst's console cookie, downloading
while she signs out (ATTACKS.md: freshness, "the very next request of ... a session, a
running job").

"Sign-out deletes the row: the cookie is dead even if a copy survives in a browser"
(``gateway.web.console.sessions``), and so do a password reset and a suspension. But a
console download in flight re-read only the account (``rechecks``): the copy's download
started before the sign-out went on to its last row, on record as ``completed``,
though the session it was asked in was over — the cookie's holder needed only to start
the largest download before the owner noticed.

Attack: a download of the 200,000-row table through dora's console session (the copy);
dora signs out with that session; the copy reads the rest.

Expected: the rest is refused and the end is on record as aborted. On the embedded
default and on PostgreSQL.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.attacks.live_gateway import DOWNLOAD, GOVERN_S, Live, RawPost, console_stream, ended
from tests.attacks.test_redteam4_analyst_access_mid_stream import live

__all__ = ["live"]  # the shared module fixture


def signed_out_mid_stream(live: Live, subject: str, path: str = DOWNLOAD[0],
                          form: dict[str, Any] | None = None) -> RawPost:  # fmt: skip
    """``subject``'s console POST of ``path`` (``form``), its first 200 KB read; then the
    session signed out and the re-check interval passed."""
    begun = console_stream(live, subject, path, form)
    headers = {"Cookie": begun.cookie, "Origin": live.base,
               "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
    out = httpx.post(f"{live.base}/console/sign-out", content=f"csrf_token={begun.csrf}",
                     headers=headers, timeout=30)  # fmt: skip
    assert out.status_code == 303, out.text[:300]
    time.sleep(2 * GOVERN_S)  # past the re-check interval
    return begun.stream


def test_a_session_signed_out_stops_its_download_in_flight(live: Live) -> None:
    stream = signed_out_mid_stream(live, "dora")
    stream.read_to_the_end()
    end = ended(live, stream.headers["x-request-id"])
    assert end["type"] == "query.aborted", (end["type"], end["rows"], end["details"])
