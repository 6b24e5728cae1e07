"""Red team 8, as an analyst: a small result sent after an officer suspended the analyst,
because the request waited for a busy source between its account read and its result.

A query reads the caller's account first, then is admitted, decided and started — and
the start waits for a source slot (``SLUICE_SOURCE_SLOT_WAIT_S``; two of them for a
comparison) when the source is busy. ``routes.streaming.Governor`` then reads the
account again during the result, and before the headers leave once the result took
longer than a small answer's time (0.1 s, red team 6) — but its clock started when the
result started, not when the account was read: a small result that waited seconds for
its slot left within milliseconds of the wait, with no second read. dora's query waits
for civil's only slot (alice is reading a long result from it); sam suspends dora; the
slot comes free and dora's rows leave: 200.

Expected: the time since the account was read is what counts: 403 (account_disabled),
no row sent, the start on record as aborted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import live_http
from tests.attacks.deployments import KINDS
from tests.attacks.live_gateway import (
    BIG,
    BIG_ROWS,
    CASE,
    Live,
    RawStream,
    deployment_home,
    serve,
    wait_for,
)


@pytest.fixture(params=KINDS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    # civil's source takes one reader at a time; a second waits up to 30 s for it
    with (
        deployment_home(request.param, tmp_path, source_max_connections=1,
                        source_slot_wait_s=30.0) as gw,
        serve(gw) as server,
    ):  # fmt: skip
        yield server


def _waiters(live: Live) -> int:
    """Queries waiting for a source slot (the broker's condition variable)."""
    slots = live.app.state.broker.slots
    return len(slots._lock._waiters)


def test_a_suspension_during_the_slot_wait_stops_the_result(live: Live) -> None:
    holder = RawStream(live, "alice", {"limit": BIG_ROWS})  # civil's one slot, held
    assert holder.status == 200
    token = live.gw.token("dora")
    answer: dict[str, Any] = {}

    def small_query() -> None:
        answer["resp"] = live_http.post(
            f"{live.base}/api/v1/datasets/{BIG}/query", params={"format": "json"},
            json={**CASE, "fields": ["id", "note"], "limit": 5},
            headers={"Authorization": f"Bearer {token}"}, timeout=60,
        )  # fmt: skip

    waiting = threading.Thread(target=small_query)
    waiting.start()
    try:
        wait_for(lambda: _waiters(live) > 0, "dora's query to wait for civil's slot")
        suspended = live_http.post(f"{live.base}/api/v1/users/dora/suspend",
                               json={"reason": "bulk pull alert"},
                               headers={"Authorization": f"Bearer {live.gw.token('sam')}"},
                               timeout=30)  # fmt: skip
        assert suspended.status_code == 200, suspended.text
    finally:
        holder.close()  # alice hangs up: the slot comes free
        waiting.join(60)
    resp = answer["resp"]
    assert resp.status_code == 403, (resp.status_code, resp.text[:300])
    assert resp.json()["code"] == "account_disabled", resp.text
    assert "row 1 of" not in resp.text
