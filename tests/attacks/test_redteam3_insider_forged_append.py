"""Red team 3, as a database insider holding only the gateway's runtime credentials.

THREAT_MODEL.md counts an insider who *inserts* audit rows among those the hash chain
and signed checkpoints detect, and says the runtime role (whose password is on every
gateway host, docs/deploy.md) "cannot change events". It need not change one: it may
INSERT into ``audit_events``, and the chain's hash is an unkeyed SHA-256 anyone can
compute. So the insider appends an event of their own making at the head — here an
admin's ``role.assigned`` making alice an admin, which never happened — chained
correctly onto the last one. The gateway writes its next events on top of it and signs
a checkpoint over it; verification then vouches for the forgery, and it reads in the
trail as the admin's act. The append-only triggers are never touched (on PostgreSQL
the insert runs as a role with only SELECT and INSERT on the audit tables, as the
runtime role of docs/deploy.md).

Rule broken: "no audit record changes without detection" — an event the gateway never
wrote must not verify as part of the trail.

Fixed: every event carries a MAC only the deployment's gateways can make
(``audit.signing.EventMac``, key derived from a secret file in the Sluice home, never in
the database). A gateway checks the events it did not write before chaining onto them
or signing a checkpoint over them and seals on a missing or wrong MAC; verification
names the forged seq. The variants: no MAC, a made-up MAC, a MAC from another
deployment's key, and a genuine event's row replayed at a new seq.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from audit.canonical import canonical_json
from audit.events import prepare
from audit.records import Actor, user_admin_event
from audit.signing import EventMac
from audit.store import ROW_COLUMNS
from audit.verify import verify_database
from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.demo_app import DemoGateway

INSIDER = "sluice_rt3_insider"


@pytest.fixture(params=KINDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoGateway]:
    """``deployment``, one per test: each forgery seals the trail it is tried on."""
    with open_deployment(request.param, tmp_path, db_prefix="sluice_rt3_mac") as gw:
        yield gw


def _head(gw: DemoGateway) -> tuple[int, str]:
    store = gw.services.audit.store
    conn = store.connect(reader=True)
    try:
        rows = store.fetch_all(conn, "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
    finally:
        conn.close()
    return int(rows[0][0]), str(rows[0][1])


def _insert_as_runtime_role(gw: DemoGateway, row: tuple[Any, ...]) -> None:
    """INSERT only: no trigger disabled, no UPDATE or DELETE."""
    store = gw.services.audit.store
    marks = ",".join([store.p] * len(ROW_COLUMNS))
    sql = f"INSERT INTO audit_events ({','.join(ROW_COLUMNS)}) VALUES ({marks})"
    conn = store.connect()
    try:
        if store.dialect == "postgresql":
            with conn.cursor() as cur:
                cur.execute(f"SET LOCAL ROLE {INSIDER}")
                cur.execute(sql, row)
            conn.commit()
        else:
            conn.execute(sql, row)
            conn.commit()
    finally:
        conn.close()


def _make_insider_role(gw: DemoGateway) -> None:
    if gw.services.audit.store.dialect != "postgresql":
        return
    gw.sql(f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{INSIDER}') "
           f"THEN CREATE ROLE {INSIDER} NOLOGIN; END IF; END $$")  # fmt: skip
    gw.sql(f"GRANT SELECT, INSERT ON audit_events, audit_checkpoints, audit_keys TO {INSIDER}")


def _read_trail(gw: DemoGateway) -> None:
    """An officer's read: an event of the gateway's own."""
    answer = gw.client.get("/api/v1/audit/events?limit=1", headers=gw.headers("sam"))
    assert answer.status_code == 200, answer.text


def _quiet_head(gw: DemoGateway) -> tuple[int, str]:
    """The head once no event has been appended for a little while (bounded: a
    gateway that never stops appending fails the test instead of hanging it)."""
    before = _head(gw)
    deadline = time.monotonic() + 30
    while True:
        time.sleep(0.5)
        now = _head(gw)
        if now == before:
            return now
        assert time.monotonic() < deadline, "the trail's head never settled"
        before = now


def _forge(gw: DemoGateway, mac: Callable[[int, bytes, bytes], str | None]) -> int:
    """Append the forged ``role.assigned`` at the head, chained correctly, with the MAC
    ``mac(seq, chain hash, body)`` makes (None: no MAC, as an insider without the key
    must); then let the gateway carry on. Returns the forged seq."""
    seq = chain_forgery(gw, mac)
    _carry_on(gw)
    return seq


def chain_forgery(gw: DemoGateway, mac: Callable[[int, bytes, bytes], str | None]) -> int:
    """``_forge`` without the gateway's next appends: the forgery at the head, unchecked."""
    _make_insider_role(gw)
    _read_trail(gw)
    seq, head = _quiet_head(gw)
    _insert_as_runtime_role(gw, forged_row(seq + 1, head, mac))
    return seq + 1


def forged_row(
    seq: int, head: str, mac: Callable[[int, bytes, bytes], str | None]
) -> tuple[Any, ...]:
    """An admin's ``role.assigned`` making alice an admin, never made, as the row at
    ``seq`` chained onto ``head`` (``ROW_COLUMNS``), with the MAC ``mac`` makes."""
    forged = user_admin_event(type_="role.assigned", actor=Actor("root", None, ("admin",)),
                              subject="alice", details={"role": "admin"})  # fmt: skip
    prepared = prepare(forged)
    data = prepared.canonical(seq)
    digest = hashlib.sha256(bytes.fromhex(head) + data).digest()
    return (seq, head, digest.hex(), data.decode(), mac(seq, digest, data), *prepared.index)


def _carry_on(gw: DemoGateway) -> None:
    """The gateway's next appends find the forgery at the head: they refuse to chain onto
    it (sealed, 503) instead of vouching for it."""
    for _ in range(3):
        answer = gw.client.get("/api/v1/audit/events?limit=1", headers=gw.headers("sam"))
        assert answer.status_code in {200, 503}, answer.text
        time.sleep(0.6)


def _assert_caught(gw: DemoGateway, seq: int, reason: str) -> None:
    verdict = gw.client.get("/api/v1/audit/verify", headers=gw.headers("sam"))
    assert verdict.status_code in {200, 503}, verdict.text
    assert gw.client.get("/healthz").json().get("sealed"), "the forgery did not seal the trail"
    assert verdict.status_code == 503 or not verdict.json()["ok"], verdict.json()
    # what verification says (the route's answer may be the seal's 503)
    log = gw.services.audit
    outcome = verify_database(store=log.store, witness_file=log.witness_file)
    assert (outcome.ok, outcome.first_bad_seq, outcome.reason) == (False, seq, reason), outcome
    # nothing was chained onto the forgery, and no checkpoint covers it
    assert _head(gw)[0] == seq
    conn = log.store.connect(reader=True)
    try:
        rows = log.store.fetch_all(conn, "SELECT max(seq) FROM audit_checkpoints")
    finally:
        conn.close()
    assert int(rows[0][0] or 0) < seq


def test_an_event_appended_behind_the_gateway_does_not_verify(deployment: DemoGateway) -> None:
    """No MAC (the insider has no key): after the first MAC'd event that is a forgery."""
    seq = _forge(deployment, lambda *_: None)
    _assert_caught(deployment, seq, "mac missing")


def test_an_event_with_a_made_up_mac_does_not_verify(fresh: DemoGateway) -> None:
    seq = _forge(fresh, lambda s, d, b: hashlib.sha256(b"guess" + d).hexdigest())
    _assert_caught(fresh, seq, "mac mismatch")


def test_an_event_maced_by_another_deployment_does_not_verify(fresh: DemoGateway) -> None:
    """The same event, MAC'd by a gateway of another deployment (its own key): the insider
    runs a Sluice of their own, or copies a row from another deployment's trail."""
    other = EventMac.from_secret(secrets.token_bytes(32))
    seq = _forge(fresh, lambda s, d, b: other.tag(s, d))
    _assert_caught(fresh, seq, "mac mismatch")


def test_an_old_event_replayed_at_a_new_seq_does_not_verify(fresh: DemoGateway) -> None:
    """A genuine event of the gateway's (its body and MAC), replayed at the head: its seq
    and chain hash change, its MAC does not follow."""
    gw = fresh
    _read_trail(gw)
    seq, head = _quiet_head(gw)
    store = gw.services.audit.store
    conn = store.connect(reader=True)
    try:
        old = store.fetch_all(conn, f"SELECT {','.join(ROW_COLUMNS)} FROM audit_events "
                                    "WHERE seq = 1")[0]  # fmt: skip
    finally:
        conn.close()
    body = orjson.loads(old[3])
    body["seq"] = seq + 1
    data = canonical_json(body)
    digest = hashlib.sha256(bytes.fromhex(head) + data).hexdigest()
    _make_insider_role(gw)
    _insert_as_runtime_role(gw, (seq + 1, head, digest, data.decode(), old[4], *old[5:]))
    _carry_on(gw)
    _assert_caught(gw, seq + 1, "mac mismatch")
