"""Red team 4, as an analyst whose access is taken away in the middle of a comparison.

The ad-hoc comparison (``POST /api/v1/comparisons``) streams its matches re-reading
only the account: a steward who revoked the grant that unmasked a field of a side, or
an admin who narrowed the analyst's jurisdiction, left the stream of matches running to
its last row, recorded as ``completed`` (and an officer's freeze of a side's entry did
not stop it either).

Rule: the matches in flight are governed as a query's result is, side by side, by the
one re-check (``Comparer.check_still_allowed`` → ``Broker.check_still_allowed``): the
rest is refused and ``comparison.aborted`` (``forbidden``) records what had left.
Fixture and helpers: ``test_redteam4_analyst_access_mid_stream``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests import live_http
from tests.attacks.live_gateway import BIG, BIG_ROWS, CASE, GOVERN_S, Live, RawPost, wait_for
from tests.attacks.test_redteam4_analyst_access_mid_stream import (
    _granted,
    _put_dora,
    _revoke,
    live,
)

__all__ = ["live"]  # the module's fixture, shared
COMPARISON = {"left": {"dataset": BIG, "key": "id", "fields": ["note"]},
              "right": {"dataset": BIG, "key": "id", "fields": ["region_code"]},
              **CASE}  # fmt: skip


def _comparison_ended(live: Live, request_id: str) -> dict[str, Any]:
    def end() -> dict[str, Any] | None:
        found = [
            e
            for e in live.events(request_id)
            if e["type"] in ("comparison.aborted", "comparison.completed")
        ]
        return found[0] if found else None

    return wait_for(end, f"the comparison's end on record ({request_id})")  # type: ignore[no-any-return]


def _compare(live: Live) -> RawPost:
    stream = RawPost(live, "/api/v1/comparisons?format=ndjson", json.dumps(COMPARISON).encode(),
                     {"Authorization": f"Bearer {live.gw.token('dora')}",
                      "Content-Type": "application/json"})  # fmt: skip
    assert stream.status == 200, stream.body[:300]
    stream.read(200_000)  # past the first response chunk: the rest is produced as sent
    return stream


def test_a_revoked_grant_stops_a_comparison_in_flight(live: Live) -> None:
    grant = _granted(live)
    stream = _compare(live)
    assert b"of a result larger" in stream.body
    _revoke(live, grant)
    time.sleep(2 * GOVERN_S)  # past the re-check interval
    stream.read_to_the_end()
    end = _comparison_ended(live, stream.headers["x-request-id"])
    assert end["type"] == "comparison.aborted", end
    assert end["details"]["reason"] == "forbidden", end["details"]
    assert 0 < end["rows"] < BIG_ROWS, end["rows"]


def test_a_narrowed_jurisdiction_stops_a_comparison_in_flight(live: Live) -> None:
    stream = _compare(live)
    before = _put_dora(live, jurisdiction=["430121"])
    try:
        time.sleep(2 * GOVERN_S)  # past the re-check interval
        stream.read_to_the_end()
        end = _comparison_ended(live, stream.headers["x-request-id"])
        assert end["type"] == "comparison.aborted", end
        assert end["details"]["reason"] == "forbidden", end["details"]
    finally:
        _put_dora(live, jurisdiction=before["jurisdiction"])


def test_a_freeze_stops_a_comparison_in_flight(live: Live) -> None:
    stream = _compare(live)
    officer = {"Authorization": f"Bearer {live.gw.token('sam')}"}
    frozen = live_http.post(f"{live.base}/api/v1/datasets/{BIG}/freeze", headers=officer,
                        json={"reason": "bulk pull"}, timeout=30)  # fmt: skip
    assert frozen.status_code == 200, frozen.text
    try:
        time.sleep(2 * GOVERN_S)  # past the re-check interval
        stream.read_to_the_end()
        end = _comparison_ended(live, stream.headers["x-request-id"])
        assert end["type"] == "comparison.aborted", end
        assert end["details"]["reason"] == "dataset_frozen", end["details"]
    finally:
        admin = {"Authorization": f"Bearer {live.gw.token('root')}"}
        lifted = live_http.post(f"{live.base}/api/v1/datasets/{BIG}/unfreeze", headers=admin,
                            json={"reason": "test over"}, timeout=30)  # fmt: skip
        assert lifted.status_code == 200, lifted.text
