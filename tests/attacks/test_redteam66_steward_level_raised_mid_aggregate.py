"""Red team 66, as a steward who raises an entry's level while an analyst's aggregate
query of it is in flight (the aggregate's sibling of red team 65's row cap).

An aggregate answer withholds every group with fewer rows than the policy's
``min_group_size`` for the entry's level (``aggregates`` in the decision: L2 3, L3 5).
A stream in flight is governed by ``Broker.check_still_allowed``: the decision taken
again must still cover what is being sent (``still_covers``) — its fields, its row
filter and its column, its row cap — but the suppression threshold was not compared:
once carl (civil's steward) raised the entry from L2 to L3, dora's answer went on with
the groups of three and four rows in clear to its last group, on record as
``completed``, where a new query withholds every one of them.

Attack: an administrator set the same row cap for L2 and L3 (``max_rows_by_level``, so
the cap is not what stops it); a 400,000-row entry whose ``note`` makes groups of four
rows (100,000 groups, several of the answer's batches); dora asks the count per
``note`` and reads a little; carl sets the entry's level to L3
(``PATCH /api/v1/datasets/{id}``); she reads the rest.

Expected: the rest is refused and the end is on record as aborted (``forbidden``). On
the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import live_http
from tests.attacks import live_gateway as lg
from tests.attacks.deployments import KINDS
from tests.attacks.live_gateway import CASE, GOVERN_S, Live, RawPost
from tests.attacks.test_redteam65_admin_policy_change_mid_stream import policy, rewrite_policy

GROUPED = "civil.grouped_rows"
ROWS = 400_000  # groups of four: 100,000, the most an answer may group
# each group's line long enough that the answer outgrows every buffer on the way
PAD = "of a grouping larger than every buffer on the way " * 4
BODY = {**CASE, "group_by": ["note"], "aggregates": [{"fn": "count", "as": "n"}]}
__all__ = ["policy"]  # the administrator's edited policy (red team 65's fixture)


@pytest.fixture(scope="module", params=KINDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Live]:  # fmt: skip
    home = tmp_path_factory.mktemp(f"rt66-aggregate-{request.param}")
    with lg.deployment_home(request.param, home, **lg.IN_FLIGHT_LIMITS) as gw:
        lg.add_big_table(gw, table="grouped_rows", dataset=GROUPED, rows=ROWS,
                         note=f"'group ' || ((n - 1) / 4) || ' {PAD}'")  # fmt: skip
        with lg.serve(gw) as server:
            yield server


def _level(live: Live, level: str, field: str = "level") -> None:
    answer = live_http.request(
        "PATCH", f"{live.base}/api/v1/datasets/{GROUPED}", timeout=30,
        headers={"Authorization": f"Bearer {live.gw.token('carl')}"}, json={field: level},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text


def _aggregate(live: Live, body: dict[str, object] = BODY) -> RawPost:
    stream = RawPost(live, f"/api/v1/datasets/{GROUPED}/query?format=ndjson",
                     json.dumps(body).encode(),
                     {"Authorization": f"Bearer {live.gw.token('dora')}",
                      "Content-Type": "application/json"})  # fmt: skip
    assert stream.status == 200, stream.body[:300]
    stream.read(200_000)
    assert b'"n":4' in stream.body.replace(b" ", b""), stream.body[:300]  # in clear at L2
    assert not [e for e in live.events(stream.request_id) if e["type"] != "query.started"]
    return stream


def test_a_level_raised_stops_an_aggregate_in_flight_past_its_new_threshold(
    live: Live,
) -> None:
    stream = _aggregate(live)
    _level(live, "L3")
    try:
        time.sleep(2 * GOVERN_S)  # past the re-check interval
        stream.read_to_the_end()
        end = lg.ended(live, stream.request_id)
        again = live_http.post(  # a new query at L3: every group of four withheld
            f"{live.base}/api/v1/datasets/{GROUPED}/query", params={"format": "ndjson"},
            json={**BODY, "limit": 3}, timeout=60,
            headers={"Authorization": f"Bearer {live.gw.token('dora')}"},
        )  # fmt: skip
        assert again.status_code == 200, again.text[:300]
        assert b'"n":4' not in again.content.replace(b" ", b""), again.text[:300]
    finally:
        _level(live, "L2")
    shown = stream.body.replace(b" ", b"").count(b'"n":4')
    assert end["type"] == "query.aborted", (end["type"], f"{shown} groups of four in clear")
    assert end["details"]["reason"] == "forbidden", end["details"]
    assert shown < ROWS // 4, shown


def test_a_retitled_entry_leaves_an_aggregate_in_flight_to_its_end(live: Live) -> None:
    """Held: a change that withholds nothing more (a title) is decided again and the
    answer goes on to its last group."""
    stream = _aggregate(live)
    _level(live, "Grouped rows, retitled", "title_en")
    time.sleep(2 * GOVERN_S)  # past the re-check interval
    stream.read_to_the_end()
    end = lg.ended(live, stream.request_id)
    assert end["type"] == "query.completed", end
    assert stream.body.replace(b" ", b"").count(b'"n":4') == ROWS // 4


CLEAR_FNS = '"allow": ["avg", "count", "count_distinct", "max", "min", "sum"],'
NO_DISTINCT = '"allow": ["avg", "count", "max", "min", "sum"],'


def test_a_function_withdrawn_by_policy_stops_an_aggregate_in_flight(
    live: Live, policy: Path
) -> None:
    """The administrator's new policy computes no ``count_distinct`` any more, whatever
    the field's action (a new query asking one is refused, ``aggregate_refused``): the
    answer in flight, computing it per group, must stop as a withdrawn field does."""
    distinct = {"fn": "count_distinct", "field": "note", "as": "d"}
    body = {**BODY, "aggregates": [{"fn": "count", "as": "n"}, distinct]}
    stream = _aggregate(live, body)
    rewrite_policy(live, policy, CLEAR_FNS, NO_DISTINCT)
    asked = live_http.post(
        f"{live.base}/api/v1/datasets/{GROUPED}/query", params={"format": "ndjson"},
        json={**body, "limit": 3}, timeout=60,
        headers={"Authorization": f"Bearer {live.gw.token('dora')}"},
    )  # fmt: skip
    assert asked.status_code == 403, asked.text[:300]  # a new query: refused
    time.sleep(2 * GOVERN_S)  # past the re-check interval
    stream.read_to_the_end()
    end = lg.ended(live, stream.request_id)
    assert end["type"] == "query.aborted", (end["type"], end["details"])
    assert end["details"]["reason"] == "forbidden", end["details"]
