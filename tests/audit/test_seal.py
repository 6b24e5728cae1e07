"""Sealing on evidence, at the level of the audit log and the CLI (SQLite and PostgreSQL).

Issue 12: ``sluice audit verify`` appended ``audit.verified`` onto a truncated head and
the gateway signed new checkpoints over it (the latest checkpoint went backwards).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit import witness
from audit.log import AuditLog
from catalog.errors import Unavailable
from gateway.cli.audit_cmd import audit
from tests.audit.helpers import event, fill, open_log, tamper


def _max(log: AuditLog, table: str) -> int:
    conn = log.store.connect(reader=True)
    try:
        return int(log.store.fetch_all(conn, f"SELECT coalesce(max(seq), 0) FROM {table}")[0][0])
    finally:
        conn.close()


def test_writer_refuses_a_head_below_the_witness(db_url: str, sluice_home: Path) -> None:
    """No monitor running: the writer itself sees the lower head and seals before
    writing; no checkpoint is signed below the witnessed one, ever."""
    log = open_log(db_url, sluice_home, background=False)
    fill(log, 25)
    log.close()
    witnessed = witness.latest(witness.witness_path(sluice_home))
    assert witnessed is not None and witnessed["seq"] == 25
    tamper(db_url, "DELETE FROM audit_events WHERE seq > 20",
           "DELETE FROM audit_checkpoints WHERE seq > 20")  # fmt: skip
    log = open_log(db_url, sluice_home, background=False)
    try:
        # the start-up comparison with the witness file already sealed it
        assert log.seal.sealed and "truncated" in (log.seal.reason or "")
        with pytest.raises(Unavailable, match="audit trail sealed"):
            log.append(event(1))
        log.append_nowait(event(2))  # counted as lost, never written
    finally:
        log.close()
    assert _max(log, "audit_events") == 20
    assert _max(log, "audit_checkpoints") == 20
    assert witness.latest(witness.witness_path(sluice_home)) == witnessed


def test_writer_detects_truncation_between_appends(db_url: str, sluice_home: Path) -> None:
    log = open_log(db_url, sluice_home, background=False, checkpoint_every=1000)
    try:
        fill(log, 10)  # no checkpoint yet: only this writer knows its head
        tamper(db_url, "DELETE FROM audit_events WHERE seq > 7")
        with pytest.raises(Unavailable, match="audit trail sealed: chain head went back"):
            log.append(event(11))
        assert _max(log, "audit_events") == 7
    finally:
        log.close()
    assert _max(log, "audit_checkpoints") == 0  # the close signed nothing over the cut


def test_monitor_seals_within_the_bound_and_the_seal_survives_restart(
    db_url: str, sluice_home: Path
) -> None:
    log = open_log(db_url, sluice_home, checkpoint_seconds=0.05, monitor_seconds=0.05)
    try:
        fill(log, 30)
        deadline = time.monotonic() + 20
        while log.writer.floor[0] < 30:  # a timed checkpoint witnesses the head
            assert time.monotonic() < deadline
            time.sleep(0.02)
        tamper(db_url, "DELETE FROM audit_events WHERE seq = 30")
        while not log.seal.sealed:
            assert time.monotonic() < deadline, "the monitor did not seal"
            time.sleep(0.02)
        # the head's check says "truncated"; the chain walk (audit.sweep), if it counted
        # the events just after the DELETE and read the head just before, says "gap"
        # below seq 30; the local witness file's check, if it ran first, "witnessed event
        # 30 is missing": each names the missing witnessed event (stop 27's and stop 30's
        # clean clones; since stop 30 the witnesses are asked at once); the chain walk, if
        # it read the head just after the DELETE, "a checkpoint at seq 30, above the
        # chain's head" (stop 34's clean clone): the same missing event, named by its
        # checkpoint
        reason = log.seal.reason or ""
        assert (
            "truncated" in reason
            or "gap: 1 event(s) missing below seq 30" in reason
            or "gap: witnessed event 30 is missing" in reason
            or "a checkpoint at seq 30, above the chain's head" in reason
        ), reason
        assert log.status()["sealed"] is True
    finally:
        log.close()
    again = open_log(db_url, sluice_home, background=False)
    try:
        assert again.seal.sealed  # durable: the seal file, not the database
        with pytest.raises(Unavailable, match="audit trail sealed"):
            again.append(event(1))
    finally:
        again.close()


def test_cli_verify_never_extends_a_truncated_chain(
    db_url: str, sluice_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log(db_url, sluice_home)
    fill(log, 25)
    log.close()
    tamper(db_url, "DELETE FROM audit_events WHERE seq > 22")
    monkeypatch.setenv("SLUICE_HOME", str(sluice_home))
    monkeypatch.setenv("SLUICE_DATABASE_URL", db_url)
    for _ in range(2):
        result = CliRunner().invoke(audit, ["verify"])
        assert result.exit_code == 1, result.output
        assert '"sealed":true' in result.output
        assert _max(log, "audit_events") == 22  # no audit.verified on the cut head
    assert '"kind":"sealed"' in (sluice_home / "audit-seal.jsonl").read_text()


def test_unsealing_takes_two_people_and_an_export(db_url: str, sluice_home: Path) -> None:
    from audit.unseal import approve
    from catalog.errors import Conflict, Forbidden

    log = open_log(db_url, sluice_home, background=False)
    try:
        fill(log, 12)
        log.seal.seal("test evidence")
        digest = "ab" * 32
        kwargs = {"department": None, "evidence_sha256": digest, "note": "n"}
        with pytest.raises(Conflict, match="export the evidence"):
            approve(log, subject="sam", roles=["security_officer"], **kwargs)  # type: ignore[arg-type]
        log.seal.record("evidence_exported", sub="sam", sha256=digest)
        with pytest.raises(Forbidden):
            approve(log, subject="ann", roles=["analyst"], **kwargs)  # type: ignore[arg-type]
        approve(log, subject="sam", roles=["security_officer"], **kwargs)  # type: ignore[arg-type]
        with pytest.raises(Conflict, match="must come from an admin"):
            approve(log, subject="sue", roles=["security_officer"], **kwargs)  # type: ignore[arg-type]
        with pytest.raises(Conflict, match="second person"):
            approve(log, subject="sam", roles=["admin"], **kwargs)  # type: ignore[arg-type]
        assert log.seal.sealed
        done = approve(log, subject="root", roles=["admin"], **kwargs)  # type: ignore[arg-type]
        assert done["sealed"] is False and done["event_seq"] == 13 and done["epoch"] == 1
        assert not log.seal.sealed
        log.append(event(14))
    finally:
        log.close()
