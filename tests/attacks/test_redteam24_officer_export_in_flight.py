"""Red team 24's left row, as a security officer whose export is in flight.

The audit export (``GET /api/v1/audit/export``, and the console's) was sent through a
plain ``StreamingResponse``, without the query path's stall bound
(``stream_stall_timeout_s``) or its re-reading of the caller's account
(``stream_govern_every_s``):

- an officer's client that takes the first bytes of a large trail and then reads no more
  held the export's reader — a snapshot of the audit store (on PostgreSQL its xmin
  horizon: no vacuum anywhere in the database; on SQLite the WAL, which no checkpoint
  can reset) — for as long as it liked, and nothing on record said the export stopped;
- an officer suspended by an admin mid-export (or whose security-officer role the admin
  removed) kept receiving the trail to its last event.

Rule, as for a query (``gateway.web.routes.streaming``): a client that takes nothing for
the stall bound is cut off and the reader is released then and there; the account is
read again every govern interval and the rest is refused once it is disabled or no
longer holds ``audit:export``. Each cut is on record beside the export's own
``audit.exported`` (same request id): ``audit.export_aborted`` with the reason, the
events and bytes that left and the last seq sent.

Served by uvicorn on a real socket, on the embedded SQLite default and on PostgreSQL,
over a trail of some 25,000 events (more than the store's 20,000-row fetch: the
export's one read of the events was still open when the client stopped reading; it now
reads them a page at a time, each page its own short read, so no snapshot is held
while the client takes its time).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from audit.records import Actor, audit_access_event
from audit.search import EventFilter, list_events
from tests import live_http
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.live_gateway import (
    GOVERN_S,
    Live,
    RawPost,
    console_session,
    serve,
    wait_for,
)

STALL_S = 2.0  # the stall bound in these tests
FILLER = 25_000  # events appended to the trail before the tests


def _fill(gw: Any) -> None:
    """Many events straight through the audit log (group commit), each ~400 bytes."""
    log = gw.services.audit
    actor = Actor("filler", "security", ("security_officer",))
    note = "an event of a trail larger than every buffer on the way " * 6
    last = None
    for i in range(FILLER):
        last = log.submit(audit_access_event(type_="audit.read", actor=actor,
                                             details={"note": note, "i": i}))  # fmt: skip
        if i % 2000 == 1999:
            last.wait()
    assert last is not None
    last.wait()


@pytest.fixture(scope="module", params=KINDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    home = tmp_path_factory.mktemp(f"rt24-export-{request.param}")
    settings = {"stream_stall_timeout_s": STALL_S, "stream_govern_every_s": GOVERN_S,
                "rate_limit": "10000/minute"}  # fmt: skip
    with open_deployment(request.param, home, db_prefix="sluice_export25", **settings) as gw:
        _fill(gw)
        with serve(gw) as server:
            # a second officer, so the admin may suspend sam (never the last one)
            _admin(
                server,
                "PUT",
                "/api/v1/admin/users/olga",
                json={"display_name": "Olga", "clearance": "L2"},
            )
            _admin(server, "POST", "/api/v1/admin/users/olga/roles",
                   json={"role": "security_officer", "domain": "*"})  # fmt: skip
            # a second admin, who lifts root's suspensions (separation of duties)
            _admin(
                server,
                "PUT",
                "/api/v1/admin/users/ada",
                json={"display_name": "Ada", "clearance": "L1"},
            )
            _admin(server, "POST", "/api/v1/admin/users/ada/roles", json={"role": "admin"})
            yield server


def raw_get(live: Live, path: str, subject: str) -> RawPost:
    """A GET over a raw socket that reads what it is told to and nothing more, as a
    client that stalls would."""
    bearer = {"Authorization": f"Bearer {live.gw.token(subject)}"}
    return RawPost(live, path, b"", bearer, method="GET")


def _events(live: Live, **filters: Any) -> list[dict[str, Any]]:
    page = list_events(store=live.gw.services.audit.store, filters=EventFilter(**filters),
                       limit=50, order="desc")  # fmt: skip
    return list(page["items"])


def _export(live: Live, fmt: str = "jsonl") -> tuple[RawPost, str]:
    """sam's export of the whole trail, its first 200 KB read; and its request id on
    record (the ``audit.exported`` written before the first byte)."""
    before = _events(live, type="audit.exported")
    seen = before[0]["seq"] if before else 0
    stream = raw_get(live, f"/api/v1/audit/export?format={fmt}", "sam")
    assert stream.status == 200, stream.body[:300]
    stream.read(200_000)
    started = [e for e in _events(live, type="audit.exported") if e["seq"] > seen]
    assert len(started) == 1, started
    return stream, str(started[0]["request_id"])


def _cut(live: Live, request_id: str, within_s: float) -> dict[str, Any]:
    """The export's end on record, polled for ``within_s``."""

    def end() -> dict[str, Any] | None:
        found = [e for e in _events(live, type="audit.export_aborted")
                 if e.get("request_id") == request_id]  # fmt: skip
        return found[0] if found else None

    return wait_for(end, f"the cut of export {request_id} on record", within_s=within_s)  # type: ignore[no-any-return]


def _reader_held(live: Live) -> bool:
    """Whether a reader of the audit store still holds its snapshot: on PostgreSQL a
    backend of the deployment's database with an xmin; on SQLite a read transaction on
    the WAL (a TRUNCATE checkpoint cannot finish beside it)."""
    store = live.gw.services.audit.store
    if store.dialect == "postgresql":
        with psycopg.connect(store._conninfo, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL "
                "AND state LIKE 'idle in transaction%'"
            ).fetchone()
        return bool(row and row[0])
    live.gw.services.audit.append(audit_access_event(
        type_="audit.read", actor=Actor("filler", "security", ("security_officer",)),
        details={"probe": "checkpoint"}))  # fmt: skip
    probe = sqlite3.connect(store._sqlite_path, timeout=0.1)
    try:
        busy = probe.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    finally:
        probe.close()
    return bool(busy)


def _admin(
    live: Live, method: str, path: str, *, admin: str = "root", **kwargs: Any
) -> httpx.Response:
    answer = live_http.request(method, f"{live.base}{path}", timeout=30,
                           headers={"Authorization": f"Bearer {live.gw.token(admin)}"},
                           **kwargs)  # fmt: skip
    assert answer.status_code < 300, (path, answer.status_code, answer.text)
    return answer


def _dechunked(body: bytes) -> bytes:
    """The payload of a chunked body (a last chunk may be missing: the export was cut)."""
    out, rest = b"", body
    while b"\r\n" in rest:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


def _assert_cut_short(stream: RawPost, end: dict[str, Any], reason: str) -> None:
    assert end["details"]["reason"] == reason, end
    assert end["outcome"] == "aborted", end
    assert 0 < end["rows"] < FILLER, end["rows"]
    got = _dechunked(stream.body)  # what the client received: what is on record
    assert end["details"]["bytes_sent"] == len(got) > 0, (end, len(got))
    assert end["result_sha256"] == hashlib.sha256(got).hexdigest()
    assert b'"kind":"trailer"' not in got  # not the whole export


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_the_client_stops_reading_is_cut_at_the_stall_bound(live: Live, fmt: str) -> None:
    stream, request_id = _export(live, fmt)
    began = time.monotonic()
    # the client reads no more: no snapshot of the store is held for it meanwhile (before
    # the fix the export's one read of the events held it until the client read on)
    wait_for(lambda: not _reader_held(live), "no snapshot held", within_s=STALL_S * 0.75)
    end = _cut(live, request_id, within_s=STALL_S + 5)
    assert time.monotonic() - began < STALL_S + 5
    assert end["details"]["reason"] == "client_stalled", end
    assert end["outcome"] == "aborted", end
    assert 0 < end["rows"] < FILLER, end["rows"]
    assert end["details"]["last_seq"] >= end["rows"], end
    wait_for(lambda: not _reader_held(live), "the export's connection closed", within_s=5)
    stream.read_to_the_end()  # the server closed the connection
    assert b'"kind":"trailer"' not in stream.body
    assert stream.headers.get("x-request-id") == request_id  # the client can name it


def test_a_suspension_stops_an_export_in_flight(live: Live) -> None:
    stream, request_id = _export(live)
    _admin(live, "POST", "/api/v1/users/sam/suspend", json={"reason": "leaking the trail"})
    try:
        time.sleep(2 * GOVERN_S)  # the admin's click, then the export goes on being read
        stream.read_to_the_end()  # everything, unless the gateway stops it
        _assert_cut_short(stream, _cut(live, request_id, within_s=5), "account_disabled")
    finally:
        _admin(live, "POST", "/api/v1/users/sam/unsuspend", admin="ada",
               json={"reason": "test over"})  # fmt: skip


def test_a_removed_officer_role_stops_an_export_in_flight(live: Live) -> None:
    stream, request_id = _export(live)
    _admin(live, "DELETE", "/api/v1/admin/users/sam/roles/security_officer/%2A")
    try:
        time.sleep(2 * GOVERN_S)
        stream.read_to_the_end()
        _assert_cut_short(stream, _cut(live, request_id, within_s=5), "forbidden")
    finally:
        _admin(live, "POST", "/api/v1/admin/users/sam/roles",
               json={"role": "security_officer", "domain": "*"})  # fmt: skip


def test_a_suspension_stops_a_console_export_in_flight(live: Live) -> None:
    """The console's export (``POST /console/audit/export``) is the API's, governed the
    same way: sam signed in, the admin suspends him mid-export."""
    cookie, csrf = console_session(live, "sam")
    form = httpx.QueryParams({"csrf_token": csrf, "format": "jsonl"})
    stream = RawPost(live, "/console/audit/export", str(form).encode(),
                     {"Cookie": cookie, "Origin": live.base,
                      "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert stream.status == 200, stream.body[:300]
    stream.read(200_000)
    request_id = stream.request_id
    _admin(live, "POST", "/api/v1/users/sam/suspend", json={"reason": "leaking the trail"})
    try:
        time.sleep(2 * GOVERN_S)
        stream.read_to_the_end()
        _assert_cut_short(stream, _cut(live, request_id, within_s=5), "account_disabled")
    finally:
        _admin(live, "POST", "/api/v1/users/sam/unsuspend", admin="ada",
               json={"reason": "test over"})  # fmt: skip
