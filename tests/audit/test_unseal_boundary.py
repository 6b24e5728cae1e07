"""The unseal's epoch boundary against an insider's checkpoint row above the head
(SQLite and PostgreSQL).

Left by red team 34: the second approval computed the new epoch's ``superseded_to``
(the seqs whose checkpoints go to the witnesses only) from ``SELECT max(seq) FROM
audit_checkpoints``, and ``AuditLog.open`` its ``last_cp`` from the same maximum. One
row an insider copies far above the head — the very row the monitor seals on — and the
epoch the two people start over that evidence stored no checkpoint in the database
again; after a restart in that epoch the writer took every head for signed and signed
nothing at all, not even for the witnesses.

Expected: the boundary comes from the checkpoints a gateway signed (a forged row's
signature does not verify), the forged row stays where it is, named in the unseal's
answer and its ``audit.unsealed`` event as the evidence it is, and passes for accepted
(the monitor does not seal on it again); the new epoch stores its checkpoints in the
database, and after a restart still signs and witnesses its head.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit import witness
from audit.log import AuditLog
from audit.unseal import approve
from gateway.cli.audit_cmd import audit
from tests.audit.helpers import fill, open_log, tamper

FAR = 10**12


def _scalar(log: AuditLog, sql: str) -> int:
    conn = log.store.connect(reader=True)
    try:
        return int(log.store.fetch_all(conn, sql)[0][0] or 0)
    finally:
        conn.close()


def _head(log: AuditLog) -> int:
    return _scalar(log, "SELECT max(seq) FROM audit_events")


def _stored_above(log: AuditLog, seq: int) -> int:
    """The newest checkpoint in the database above ``seq`` that signs an existing event."""
    return _scalar(log, "SELECT max(c.seq) FROM audit_checkpoints c JOIN audit_events e "
                        f"ON e.seq = c.seq WHERE c.seq > {seq}")  # fmt: skip


def _export_and_unseal(db_url: str, home: Path, log: AuditLog,
                       monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:  # fmt: skip
    """As the officers do it: a whole export while sealed, then two approvals."""
    monkeypatch.setenv("SLUICE_HOME", str(home))
    monkeypatch.setenv("SLUICE_DATABASE_URL", db_url)
    out = home / "evidence.jsonl"
    result = CliRunner().invoke(audit, ["export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    kwargs = {"department": None, "evidence_sha256": digest, "note": "INC-35"}
    first = approve(log, subject="sam", roles=["security_officer"], **kwargs)  # type: ignore[arg-type]
    assert first["sealed"] is True
    done = approve(log, subject="root", roles=["admin"], **kwargs)  # type: ignore[arg-type]
    assert done["sealed"] is False
    return done


@pytest.mark.parametrize(("forged", "every"), [(FAR, 10), (15, 1)], ids=["far", "near"])
def test_a_forged_checkpoint_above_the_head_does_not_set_the_epoch_boundary(
    db_url: str, sluice_home: Path, monkeypatch: pytest.MonkeyPatch, forged: int, every: int
) -> None:
    """``far``: the row of red team 34, the epoch's every seq below it; ``near``: a row
    the new epoch soon reaches, every event checkpointed — its own checkpoint at that
    seq goes to the witnesses only (the database's row there is the evidence)."""
    log = open_log(db_url, sluice_home, background=False, checkpoint_every=every)
    try:
        fill(log, 12)  # a checkpoint at 10, in the database and the witness file
        tamper(db_url, "INSERT INTO audit_checkpoints (seq, hash, ts, kid, signature) "
                       f"SELECT {forged}, hash, ts, kid, signature FROM audit_checkpoints "
                       "WHERE seq = 10")  # fmt: skip
        reason = log.monitor.check(remote=False)
        assert reason is not None and f"checkpoint at seq {forged}" in reason, reason
        anchor = _head(log)

        done = _export_and_unseal(db_url, sluice_home, log, monkeypatch)
        assert done["anchor_seq"] == anchor
        # accepted by the two people: the monitor does not seal on it again
        assert log.monitor.check(remote=False) is None
        assert not log.seal.sealed
        fill(log, 12)  # past the next count: a checkpoint of the new epoch
        assert _stored_above(log, anchor) > anchor + 1, (
            "the new epoch stores no checkpoint in the database (witness-only for good)"
        )
    finally:
        log.close()

    # a restart in that epoch: the forged row is no signature of the head
    again = open_log(db_url, sluice_home, background=False, checkpoint_every=every)
    try:
        fill(again, 3)
        head = _head(again)
    finally:
        again.close()  # the close signs and witnesses the head if nobody has
    newest = witness.latest(witness.witness_path(sluice_home))
    assert newest is not None and int(newest["seq"]) == head, (
        f"after a restart the head {head} was never signed: witnessed {newest}"
    )
    assert _stored_above(again, anchor) == head
    assert not again.seal.sealed
    # the boundary: no checkpoint a gateway signed lies above the anchor; the forged row
    # is named as the evidence it is, and left where it is
    assert done["superseded_to"] == 0, done
    assert done["forged_checkpoints"] == [forged], done
    assert _scalar(again, f"SELECT count(*) FROM audit_checkpoints WHERE seq = {forged}") == 1
    # and the whole trail verifies, the accepted row passed over at its own seq
    result = CliRunner().invoke(audit, ["verify"])
    assert result.exit_code == 0 and '"ok":true' in result.output, result.output
