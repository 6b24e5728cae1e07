"""Red team 3, as a security officer: suspending an analyst in the middle of a pull.

The officer sees a bulk pull under way (the alert) and suspends the account
(``POST /api/v1/users/{subject}/suspend``) to stop it. The analyst's next *request* is
refused, but the stream already open went on to its last row: 200,000 rows left after
the officer acted, recorded as ``completed`` — the suspension governed no request in
flight (ATTACKS.md: freshness, "the very next request of a token, a session, a running
job"). The stream must stop within about a second of the suspension, its end on record
as aborted with ``account_disabled`` and what had left by then. An officer's freeze of
the entry (``POST /api/v1/datasets/{id}/freeze``, "no queries") likewise: aborted with
``dataset_frozen``.

Served by uvicorn on a real socket (the in-process test client buffers whole bodies),
on the embedded SQLite default and on PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests import live_http
from tests.attacks.deployments import KINDS
from tests.attacks.live_gateway import (
    BIG,
    BIG_ROWS,
    GOVERN_S,
    Live,
    RawStream,
    deployment_home,
    ended,
    serve,
)


@pytest.fixture(scope="module", params=KINDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    home = tmp_path_factory.mktemp(f"rt3-midstream-{request.param}")
    with (
        deployment_home(request.param, home, stream_govern_every_s=GOVERN_S) as gw,
        serve(gw) as server,
    ):
        yield server


def _officer(live: Live, action: str) -> httpx.Response:
    subject = "sam" if action == "suspend" else "root"
    return live_http.post(f"{live.base}/api/v1/users/dora/{action}", json={"reason": "bulk pull"},
                      headers={"Authorization": f"Bearer {live.gw.token(subject)}"},
                      timeout=30)  # fmt: skip


def _read_to_the_end(stream: RawStream) -> None:
    while chunk := stream.sock.recv(1 << 20):
        stream.body += chunk


def test_a_suspension_stops_the_stream_in_flight(live: Live) -> None:
    stream = RawStream(live, "dora", {"limit": BIG_ROWS})
    assert stream.status == 200
    stream.read(200_000)  # past the first response chunk: the rest is produced as sent
    suspended = _officer(live, "suspend")
    assert suspended.status_code == 200, suspended.text
    try:
        time.sleep(2 * GOVERN_S)  # the officer's click, then the stream goes on being read
        _read_to_the_end(stream)  # everything, unless the gateway stops it
        stream.close()
        end = ended(live, stream.request_id)
        assert end["type"] == "query.aborted", end["type"]
        assert end["details"]["reason"] == "account_disabled", end["details"]
        assert 0 < end["rows"] < BIG_ROWS
    finally:
        lifted = _officer(live, "unsuspend")
        assert lifted.status_code == 200, lifted.text


def test_a_freeze_stops_the_stream_in_flight(live: Live) -> None:
    stream = RawStream(live, "dora", {"limit": BIG_ROWS})
    assert stream.status == 200
    stream.read(200_000)
    officer = {"Authorization": f"Bearer {live.gw.token('sam')}"}
    frozen = live_http.post(f"{live.base}/api/v1/datasets/{BIG}/freeze", headers=officer,
                        json={"reason": "bulk pull"}, timeout=30)  # fmt: skip
    assert frozen.status_code == 200, frozen.text
    try:
        time.sleep(2 * GOVERN_S)
        _read_to_the_end(stream)
        stream.close()
        end = ended(live, stream.request_id)
        assert end["type"] == "query.aborted", end["type"]
        assert end["details"]["reason"] == "dataset_frozen", end["details"]
        assert 0 < end["rows"] < BIG_ROWS
    finally:
        admin = {"Authorization": f"Bearer {live.gw.token('root')}"}
        lifted = live_http.post(f"{live.base}/api/v1/datasets/{BIG}/unfreeze", headers=admin,
                            json={"reason": "test over"}, timeout=30)  # fmt: skip
        assert lifted.status_code == 200, lifted.text


def _put_dora(live: Live, **change: object) -> dict[str, object]:
    admin = {"Authorization": f"Bearer {live.gw.token('root')}"}
    users = live_http.get(f"{live.base}/api/v1/admin/users", headers=admin, timeout=30).json()
    dora = next(u for u in users if u["subject"] == "dora")
    body = {"display_name": dora["display_name"], "department": dora["department"],
            "clearance": dora["clearance"], "jurisdiction": dora["jurisdiction"],
            **change}  # fmt: skip
    answer = live_http.put(f"{live.base}/api/v1/admin/users/dora", headers=admin, json=body,
                       timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return dict(dora)


def test_a_narrowed_access_stops_the_stream_in_flight(live: Live) -> None:
    """An admin narrows the analyst's jurisdiction to one county (or lowers their
    clearance, revokes a grant): the rest of the pull is no longer theirs to receive."""
    stream = RawStream(live, "dora", {"limit": BIG_ROWS})
    assert stream.status == 200
    stream.read(200_000)
    before = _put_dora(live, jurisdiction=["430121"])
    try:
        time.sleep(2 * GOVERN_S)
        _read_to_the_end(stream)
        stream.close()
        end = ended(live, stream.request_id)
        assert end["type"] == "query.aborted", end["type"]
        assert end["details"]["reason"] == "forbidden", end["details"]
        assert 0 < end["rows"] < BIG_ROWS
    finally:
        _put_dora(live, jurisdiction=before["jurisdiction"])
