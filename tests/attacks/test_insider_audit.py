"""An insider with database superuser rights erases the newest audit events.

Issue 12: deleting the tail (after the last checkpoint, or past checkpoints, or the
checkpoints too) went unseen or was seen without consequence. Now each deletion is
detected within the stated bound (a checkpoint is witnessed at least every
``audit_checkpoint_seconds``; the head is compared with the witnesses every
``audit_monitor_seconds``), the gateway seals, data endpoints answer 503, nothing is
appended to the broken chain, and two people (a security officer and an admin) unseal
after exporting the evidence — on record in the seal file and in the new epoch's first
event. Runs on the embedded SQLite deployment and on PostgreSQL (``deployment``), with
both intervals at ``INTERVAL_S``: every bound is a setting, and the waits below are
polls bounded by ``BOUND_S`` but one, which is past an interval.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from audit.export import verify_export
from tests.attacks.deployments import KINDS, open_deployment
from tests.audit.helpers import event
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-001", "fields": ["region_code"]}
COMPARISON = {
    "left": {"dataset": "finance.payroll", "key": "id_number", "fields": ["employer"]},
    "right": {"dataset": DIBAO, "key": "id_number", "fields": ["region_code"]},
    "purpose": "supervision", "case_ref": "JW-2026-001",
}  # fmt: skip
INTERVAL_S = 0.25  # audit_checkpoint_seconds and audit_monitor_seconds here (default 1 s)
BOUND_S = 30.0  # polling bound only
AUDIT_TABLES = ("audit_events", "audit_checkpoints", "audit_keys")


def _insider(gw: DemoGateway, *statements: str) -> None:
    """Run SQL as the database's superuser would, the append-only triggers bypassed:
    dropped on SQLite, ``DISABLE TRIGGER ALL`` on PostgreSQL."""
    url = gw.settings.resolved_database_url
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            rows = conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
            for name, table in rows.fetchall():
                if table in AUDIT_TABLES:
                    conn.execute(f'DROP TRIGGER "{name}"')
            for sql in statements:
                conn.execute(sql)
        finally:
            conn.close()
        return
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as pg:
        for table in AUDIT_TABLES:
            pg.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        for sql in statements:
            pg.execute(sql)
        for table in AUDIT_TABLES:
            pg.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")


@pytest.fixture(scope="module", params=KINDS)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoGateway]:
    """The attack deployment (embedded default, then PostgreSQL), a checkpoint and a
    comparison with the witnesses every ``INTERVAL_S``."""
    home = tmp_path_factory.mktemp(f"insider-audit-{request.param}")
    with open_deployment(request.param, home, audit_checkpoint_seconds=INTERVAL_S,
                         audit_monitor_seconds=INTERVAL_S) as gw:  # fmt: skip
        yield gw


def _scalar(gw: DemoGateway, sql: str) -> Any:
    conn = gw.services.audit.store.connect(reader=True)
    try:
        return gw.services.audit.store.fetch_all(conn, sql)[0][0]
    finally:
        conn.close()


def _status(gw: DemoGateway) -> dict[str, Any]:
    resp = gw.client.get("/api/v1/audit/status", headers=gw.headers("sam"))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND_S
    while not check():
        assert time.monotonic() < deadline, f"not within {BOUND_S} s: {what}"
        time.sleep(0.05)


def _witnessed_head(gw: DemoGateway) -> bool:
    status = _status(gw)
    return bool(status["witnessed"]["seq"] == status["head"]["seq"] > 0)


def _append(gw: DemoGateway, count: int) -> None:
    for n in range(count):
        gw.services.audit.append(event(n))


def _checkpoints(gw: DemoGateway) -> list[int]:
    conn = gw.services.audit.store.connect(reader=True)
    try:
        rows = gw.services.audit.store.fetch_all(
            conn, "SELECT seq FROM audit_checkpoints ORDER BY seq"
        )
    finally:
        conn.close()
    return [int(r[0]) for r in rows]


def _one_event(gw: DemoGateway, head: int) -> list[str]:
    return [f"DELETE FROM audit_events WHERE seq = {head}"]


def _hundred_events(gw: DemoGateway, head: int) -> list[str]:
    return [f"DELETE FROM audit_events WHERE seq > {head - 100}"]


def _after_a_checkpoint(gw: DemoGateway, head: int) -> list[str]:
    earlier = [seq for seq in _checkpoints(gw) if seq < head][-1]
    return [f"DELETE FROM audit_events WHERE seq > {earlier}",
            f"DELETE FROM audit_checkpoints WHERE seq > {earlier}"]  # fmt: skip


def _checkpoints_too(gw: DemoGateway, head: int) -> list[str]:
    return [f"DELETE FROM audit_events WHERE seq > {head - 10}",
            f"DELETE FROM audit_checkpoints WHERE seq > {head - 130}"]  # fmt: skip


CASES = {
    "one event": _one_event,
    "a hundred events": _hundred_events,
    "everything after a checkpoint": _after_a_checkpoint,
    "the tail and its checkpoints": _checkpoints_too,
}


@pytest.mark.parametrize("case", list(CASES))
def test_erasing_the_tail_seals_the_gateway(deployment: DemoGateway, case: str) -> None:
    gw = deployment
    assert not _status(gw)["sealed"], "a previous case left the gateway sealed"
    assert gw.query("arthur", DIBAO, QUERY).status_code == 200
    _append(gw, 60)
    _until(lambda: _witnessed_head(gw), "the head is witnessed")  # a checkpoint, then more
    _append(gw, 120)
    _until(lambda: _witnessed_head(gw), "the new head is witnessed")
    head = int(_status(gw)["head"]["seq"])

    _insider(gw, *CASES[case](gw, head))
    after = int(_scalar(gw, "SELECT coalesce(max(seq), 0) FROM audit_events"))
    assert after < head
    checkpoints_after = _checkpoints(gw)

    _until(lambda: bool(_status(gw)["sealed"]), "the gateway seals")
    status = _status(gw)
    assert status["reason"], status
    assert gw.client.get("/healthz").json() == {"status": "sealed", "sealed": True}

    # data endpoints fail closed, and nothing is appended to the broken chain
    resp = gw.query("arthur", DIBAO, QUERY)
    assert resp.status_code == 503 and resp.json()["code"] == "unavailable", resp.text
    assert b"430" not in resp.content
    resp = gw.compare("dora", COMPARISON)
    assert resp.status_code == 503 and resp.json()["code"] == "unavailable", resp.text
    assert b"tk_" not in resp.content
    time.sleep(2 * INTERVAL_S)  # past a checkpoint interval: a live writer would have signed
    assert int(_scalar(gw, "SELECT coalesce(max(seq), 0) FROM audit_events")) == after
    assert _checkpoints(gw) == checkpoints_after  # nothing signed, never backwards
    # officers can still investigate; their reads go to the seal file
    assert gw.client.get("/api/v1/audit/events", headers=gw.headers("sam")).status_code == 200
    assert int(_scalar(gw, "SELECT coalesce(max(seq), 0) FROM audit_events")) == after

    _unseal_with_two_people(gw, after)
    assert gw.query("arthur", DIBAO, QUERY).status_code == 200
    _until(lambda: _witnessed_head(gw), "the new epoch is witnessed")
    verified = gw.client.get("/api/v1/audit/verify", headers=gw.headers("sam")).json()
    assert verified["ok"] is True, verified
    # and an export across the unseal verifies offline, keys pinned
    export = gw.client.get("/api/v1/audit/export", headers=gw.headers("sam")).content
    pinned = set(gw.services.audit.signer.public_keys())
    outcome = verify_export(export, trusted_kids=pinned)
    assert outcome.ok, outcome


def _unseal_with_two_people(gw: DemoGateway, anchor: int) -> None:
    sam, root = gw.headers("sam"), gw.headers("root")
    fake = {"evidence_sha256": "0" * 64, "note": "no export taken"}
    resp = gw.client.post("/api/v1/audit/unseal", json=fake, headers=sam)
    assert resp.status_code == 409 and "export the evidence" in resp.text, resp.text
    export = gw.client.get("/api/v1/audit/export", headers=sam)
    assert export.status_code == 200
    assert b'"sealed":"' in export.content.splitlines()[-1]  # the signed trailer says so
    digest = hashlib.sha256(export.content).hexdigest()
    body = {"evidence_sha256": digest, "note": "tail deleted; incident INC-7"}

    # an analyst is refused (a 503 while sealed: that refusal cannot enter the chain)
    assert gw.client.post("/api/v1/audit/unseal", json=body,
                          headers=gw.headers("arthur")).status_code in (403, 503)  # fmt: skip
    first = gw.client.post("/api/v1/audit/unseal", json=body, headers=sam)
    assert first.status_code == 200 and first.json()["sealed"] is True, first.text
    assert first.json()["waiting_for"] == "admin"
    again = gw.client.post("/api/v1/audit/unseal", json=body, headers=sam)
    assert again.status_code == 409 and "second person" in again.text
    assert _status(gw)["sealed"] is True
    assert gw.query("arthur", DIBAO, QUERY).status_code == 503

    second = gw.client.post("/api/v1/audit/unseal", json=body, headers=root)
    assert second.status_code == 200, second.text
    done = second.json()
    assert done["sealed"] is False and done["anchor_seq"] == anchor
    assert done["event_seq"] == anchor + 1  # the new epoch's first event
    assert {(a["sub"], a["role"]) for a in done["approvals"]} == {
        ("sam", "security_officer"),
        ("root", "admin"),
    }
    status = _status(gw)
    assert status["sealed"] is False and gw.client.get("/healthz").json()["sealed"] is False
    # on record in the chain: the first event of the new epoch
    found = gw.client.get(f"/api/v1/audit/events/{anchor + 1}", headers=sam).json()
    assert found["type"] == "audit.unsealed"
    assert found["details"]["evidence_sha256"] == digest
    assert found["details"]["seal_reason"]
    assert [a["sub"] for a in found["details"]["approvals"]] == ["sam", "root"]
    # and in the seal file, outside the database
    seal_file = (gw.settings.home / "audit-seal.jsonl").read_text()
    assert '"kind":"unseal_approved"' in seal_file and '"kind":"unsealed"' in seal_file


def test_audit_integer_params_are_bounded(deployment: DemoGateway) -> None:
    sam = deployment.headers("sam")
    for url in (
        f"/api/v1/audit/verify?to={2**65}",
        f"/api/v1/audit/verify?from={2**63}",
        f"/api/v1/audit/export?to={2**64}",
        f"/api/v1/audit/events/{2**65}",
        "/api/v1/audit/events?limit=100000000000000000000000",
    ):
        resp = deployment.client.get(url, headers=sam)
        assert resp.status_code == 400, (url, resp.status_code, resp.text)
        assert resp.json()["message"]
    # a range past the end of the chain is the caller's mistake, not evidence: no seal
    resp = deployment.client.get(f"/api/v1/audit/verify?from={10**9}", headers=sam)
    assert resp.status_code == 200 and resp.json()["reason"] == "out of range", resp.text
    assert _status(deployment)["sealed"] is False
