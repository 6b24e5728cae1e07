"""Red team 65, as a catalog database insider who deletes an entry's rows while an
analyst's download of it is in flight (ATTACKS.md: tampering by an insider, freshness).

A stream in flight is governed by ``Broker.check_still_allowed``: once the catalog moved
it loads the entry and decides again. An entry it could not load was taken as allowed
(``if entry is None: return generation``) — the generation returned as seen, nothing
decided again while it stood. The insider's ``DELETE`` of the entry's rows (no seal to
break: there is no row left) left dora's download ungovernable by anything but her
account: an administrator narrowing her jurisdiction, a steward revoking a grant, an
officer's freeze (which can no longer even name the entry) — her download ran to its
last row, on record as ``completed``, where a new query is a 404.

Attack: dora starts a 200,000-row download; the insider deletes the entry's field and
entry rows; root narrows dora's jurisdiction to one county; she reads the rest.

Expected: the rest is refused (an entry that is gone releases nothing) and the end is on
record as aborted. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import time

from tests.attacks.live_gateway import BIG, BIG_ROWS, GOVERN_S, Live, RawStream, ended
from tests.attacks.test_redteam4_analyst_access_mid_stream import _put_dora, live

__all__ = ["live"]  # the shared module fixture


def test_an_entry_deleted_behind_the_gateway_stops_the_stream(live: Live) -> None:
    stream = RawStream(live, "dora", {"limit": BIG_ROWS})
    assert stream.status == 200, stream.body[:300]
    stream.read(200_000)
    live.gw.sql("DELETE FROM fields WHERE dataset_id = :d", d=BIG)
    live.gw.sql("DELETE FROM datasets WHERE id = :d", d=BIG)
    before = _put_dora(live, jurisdiction=["430121"])
    try:
        time.sleep(2 * GOVERN_S)  # past the re-check interval
        stream.read_to_the_end()
        end = ended(live, stream.request_id)
    finally:
        _put_dora(live, jurisdiction=before["jurisdiction"])
    assert end["type"] == "query.aborted", (end["type"], end["rows"], end["details"])
    assert 0 < end["rows"] < BIG_ROWS, end["rows"]
