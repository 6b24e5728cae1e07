"""Red team 65, as whoever holds a copy of a security officer's console cookie, exporting
the audit trail while he signs out (the export's twin of
``test_redteam65_analyst_session_ended_mid_download``).

The console's export (``POST /console/audit/export``) is the API's handler, governed by
the officer's account and role (red team 24) but not by the console session it was
asked in: after sam signed out — "the cookie is dead even if a copy survives" — the
copy's export of the whole trail (who looked up whom, cases, purposes) went on to its
last event.

Expected: the rest is refused, ``audit.export_aborted`` on record (``unauthenticated``).
On the embedded default and on PostgreSQL (red team 24's live gateway, 25,000 events).
"""

from __future__ import annotations

from tests.attacks.live_gateway import Live
from tests.attacks.test_redteam24_officer_export_in_flight import _assert_cut_short, _cut, live
from tests.attacks.test_redteam65_analyst_session_ended_mid_download import signed_out_mid_stream

__all__ = ["live"]  # the shared module fixture


def test_a_session_signed_out_stops_its_console_export_in_flight(live: Live) -> None:
    stream = signed_out_mid_stream(live, "sam", "/console/audit/export", {"format": "jsonl"})
    taken = bytearray(stream.body)  # read as fast as it comes: never the stall bound
    while chunk := stream.sock.recv(1 << 20):
        taken += chunk
    stream.close()
    stream.body = bytes(taken)
    _assert_cut_short(stream, _cut(live, stream.request_id, within_s=5), "unauthenticated")
