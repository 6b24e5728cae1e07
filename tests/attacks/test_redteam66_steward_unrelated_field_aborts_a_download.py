"""Red team 66, as a steward whose reclassification of one field stops every download
of the entry in flight, including those that never read it (denial of service against
analysts; ATTACKS.md: freshness, "a running job").

A stream in flight is governed by ``Broker.check_still_allowed``: the decision taken
again must still cover what is being sent (``still_covers``). A decision covers every
field of the entry at once, and ``still_covers`` compared every one of them — not only
those the result reads: when carl (civil's steward) marked the big table's ``note`` as
free text at L3 (masked to her from then on), dora's download of ``id`` and ``region_code`` alone —
no byte of ``note`` in it, nothing about what it sends changed — was cut as
``forbidden``, while the same query asked again is served whole.

Attack: an administrator set the same row cap for L2 and L3 (``max_rows_by_level``);
dora downloads ``id`` and ``region_code`` of the 200,000-row table and reads a
little; carl sets ``note``'s level to L3 and its category to ``free_text`` (``PATCH
/api/v1/datasets/{id}``); she reads the rest.

Expected: the download runs to its last row (``completed``), as the same query asked
now does. On the embedded default and on PostgreSQL. Its twin held: a download that
does read ``note`` stops (red team 4's narrowed-access rule).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests import live_http
from tests.attacks import live_gateway as lg
from tests.attacks.deployments import KINDS
from tests.attacks.live_gateway import BIG, BIG_ROWS, GOVERN_S, Live, RawStream


@pytest.fixture(scope="module", params=KINDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Live]:  # fmt: skip
    home = tmp_path_factory.mktemp(f"rt66-field-{request.param}")
    with (
        lg.deployment_home(request.param, home, **lg.IN_FLIGHT_LIMITS) as gw,
        lg.serve(gw) as server,
    ):
        yield server


def _patch(live: Live, patch: dict[str, object]) -> None:
    answer = live_http.request(
        "PATCH", f"{live.base}/api/v1/datasets/{BIG}", timeout=30,
        headers={"Authorization": f"Bearer {live.gw.token('carl')}"}, json=patch,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text


def _download_with_note_reclassified(
    live: Live, fields: list[str], *, again: bool = False, **body: object
) -> dict[str, Any]:
    stream = RawStream(live, "dora", {"fields": fields, "limit": BIG_ROWS, **body})
    assert stream.status == 200, stream.body[:300]
    stream.read(200_000)
    assert not [e for e in live.events(stream.request_id) if e["type"] != "query.started"]
    # at dora's clearance and personal: masked to her from now on (the entry rises to
    # L3 with it, whose row cap the administrator set as L2's)
    _patch(live, {"fields": {"note": {"level": "L3", "pi_category": "free_text"}}})
    try:
        time.sleep(2 * GOVERN_S)  # past the re-check interval
        stream.read_to_the_end()
        if again:
            asked = live.post("dora", {"fields": fields, "limit": BIG_ROWS, **body})
            assert asked.status_code == 200, asked.text[:300]
            return lg.ended(live, asked.headers["x-request-id"])
        return lg.ended(live, stream.request_id)
    finally:
        _patch(live, {"fields": {"note": {"level": "L1", "pi_category": "none"}}, "level": "L2"})


def test_a_field_the_download_never_reads_leaves_it_to_its_end(live: Live) -> None:
    end = _download_with_note_reclassified(live, ["id", "region_code"])
    assert end["type"] == "query.completed", (end["type"], end.get("details"))
    assert end["rows"] == BIG_ROWS, end["rows"]


def test_a_field_it_filters_on_stops_it(live: Live) -> None:
    """A filter reads the field's values as surely as returning it does."""
    end = _download_with_note_reclassified(
        live, ["id", "region_code"], where=[{"field": "note", "op": "prefix", "value": "row"}]
    )
    assert end["type"] == "query.aborted", end
    assert end["details"]["reason"] == "forbidden", end["details"]


def test_a_field_the_download_sorts_on_stops_it(live: Live) -> None:
    end = _download_with_note_reclassified(live, ["id", "region_code"], order_by=["note"])
    assert end["type"] == "query.aborted", end
    assert end["details"]["reason"] == "forbidden", end["details"]


def test_the_same_query_asked_again_is_served_whole(live: Live) -> None:
    """What the download above is owed: the query asked after the change is served."""
    end = _download_with_note_reclassified(live, ["id", "region_code"], again=True)
    assert end["type"] == "query.completed", (end["type"], end.get("details"))
    assert end["rows"] == BIG_ROWS, end["rows"]


def test_a_field_the_download_reads_stops_it(live: Live) -> None:
    end = _download_with_note_reclassified(live, ["id", "note"])
    assert end["type"] == "query.aborted", end
    assert end["details"]["reason"] == "forbidden", end["details"]
