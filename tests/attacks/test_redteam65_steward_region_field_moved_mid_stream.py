"""Red team 65, as a steward who reclassifies an entry while an analyst's download of
it is in flight — its jurisdiction moved to another column, its level raised
(ATTACKS.md: freshness, "a running job").

A stream in flight is governed by ``Broker.check_still_allowed``: the decision taken
again must still cover what is being sent (``still_covers``), its row filter included.
The row filter is ``{field, prefixes}`` — the entry's region field and the caller's
jurisdiction — but only the prefixes were compared: when carl (civil's steward) named
another column as the entry's region field, alice's download went on filtered by the
old column to its last row, on record as ``completed``, though by the entry as
classified now its rows were outside her jurisdiction (a new query reads none of
them).

Attack: a 600,000-row entry whose ``note`` holds another region code than its
``region_code``; alice (jurisdiction ``430121``) starts a download and reads a little;
carl sets the region field to ``note`` (``PATCH /api/v1/datasets/{id}``); she reads the
rest.

Second attack: carl raises the 200,000-row L2 entry to L3 while dora (L3) downloads all
of it: policy caps an L3 result at 10,000 rows (``max_rows_by_level``), but the row cap
was not compared either, and the download went on past it to its last row, completed.

Expected: the rest is refused and the end is on record as aborted (``forbidden``). On
the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests import live_http
from tests.attacks import live_gateway as lg
from tests.attacks.deployments import KINDS
from tests.attacks.live_gateway import BIG, BIG_ROWS, CASE, GOVERN_S, Live, RawPost, RawStream
from tests.attacks.test_redteam4_analyst_access_mid_stream import _assert_aborted

MOVED = "civil.moved_rows"
# the home region of each row, never its region_code (430121's rows live in 430102)
HOME = "CASE n % 3 WHEN 0 THEN '430102' WHEN 1 THEN '430181' ELSE '430121' END || ' home'"


@pytest.fixture(scope="module", params=KINDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Live]:  # fmt: skip
    home = tmp_path_factory.mktemp(f"rt65-region-{request.param}")
    limits = {"stream_govern_every_s": GOVERN_S, "stream_stall_timeout_s": 60.0}
    with lg.deployment_home(request.param, home, **limits) as gw:
        # alice's third is BIG_ROWS: several of the reader's batches, as dora's whole read
        lg.add_big_table(gw, table="moved_rows", dataset=MOVED, rows=3 * BIG_ROWS, note=HOME)
        with lg.serve(gw) as server:
            yield server


def _patch(live: Live, region_field: str, entry: str = MOVED, field: str = "region_field"
           ) -> None:  # fmt: skip
    answer = live_http.request(
        "PATCH", f"{live.base}/api/v1/datasets/{entry}", timeout=30,
        headers={"Authorization": f"Bearer {live.gw.token('carl')}"}, json={field: region_field},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text


def test_a_region_field_moved_stops_a_query_in_flight(live: Live) -> None:
    stream = RawPost(live, f"/api/v1/datasets/{MOVED}/query?format=ndjson",
                     f'{{"purpose": "{CASE["purpose"]}", "case_ref": "{CASE["case_ref"]}"}}'
                     .encode(),
                     {"Authorization": f"Bearer {live.gw.token('alice')}",
                      "Content-Type": "application/json"})  # fmt: skip
    assert stream.status == 200, stream.body[:300]
    stream.read(200_000)
    assert b'"430121"' in stream.body and b'"430102 home' in stream.body  # homes elsewhere
    assert not [e for e in live.events(stream.request_id) if e["type"] != "query.started"]
    _patch(live, "note")
    try:
        time.sleep(2 * GOVERN_S)  # past the re-check interval
        stream.read_to_the_end()
        end = lg.ended(live, stream.request_id)
    finally:
        _patch(live, "region_code")
    _assert_aborted(end, "query")


def test_a_level_raised_stops_a_query_in_flight_past_its_new_cap(live: Live) -> None:
    stream = RawStream(live, "dora", {"limit": BIG_ROWS})
    assert stream.status == 200, stream.body[:300]
    stream.read(200_000)
    assert not [e for e in live.events(stream.request_id) if e["type"] != "query.started"]
    _patch(live, "L3", BIG, "level")
    try:
        time.sleep(2 * GOVERN_S)  # past the re-check interval
        stream.read_to_the_end()
        end = lg.ended(live, stream.request_id)
    finally:
        _patch(live, "L2", BIG, "level")
    _assert_aborted(end, "query")
