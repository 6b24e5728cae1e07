"""Two-person unsealing: a security officer and an admin (two different people).

Order of checks (each refusal leaves the seal as it was):
1. the trail is sealed;
2. the caller holds ``security_officer`` or ``admin``;
3. the evidence was exported since sealing — the body names the SHA-256 of a complete
   export the gateway recorded while sealed (``evidence_exported`` in the seal file),
   so the approver holds a copy of what the database looked like;
4. the caller has not approved already, and their role is not already covered.

The checks and what follows run one approval at a time over a home (a lock):
two approvals at once each found both roles covered and unsealed twice.

Each approval is recorded in the seal file at once. The second one starts a new epoch:
the chain continues from the database head *as found* (the loss is accepted, on
record); the local witness file of the old epoch is archived as evidence; checkpoints of
the old epoch left in the database above the head become void (witness-only seqs for
the new epoch, see ``audit.seal.Epoch``) — only those a gateway signed: a row whose
signature does not verify (an insider's, copied far above the head: the evidence the
monitor sealed on) sets no boundary, stays where it is, is named in
``forged_checkpoints`` (at most ``MAX_ACCEPTED``; the monitor seals again on any
further one) and is void at its own seq only; and the first event of the new epoch,
``audit.unsealed``, names the anchor, the evidence digest, the seal reason and both
approvals — so the re-anchoring is itself in the chain and covered by the next
checkpoint.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import structlog

from audit import witness
from audit.event_types import EventType, MalformedEvent
from audit.records import Actor, audit_access_event, token_event
from audit.seal import Epoch
from audit.sweep import MAX_ACCEPTED, accepted_failures
from audit.verify import checkpoints_above, verify_database
from catalog.errors import BadRequest, Conflict, Forbidden
from catalog.private_files import open_own

if TYPE_CHECKING:
    from pathlib import Path

    from audit.log import AuditLog

ROLES = ("security_officer", "admin")
_log = structlog.get_logger("sluice.audit")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
_IN_PROCESS = threading.Lock()


@contextmanager
def _one_at_a_time(seal_path: Path) -> Iterator[None]:
    """One approval at a time over one home — this process's threads and every other
    process on it (``flock`` on ``<seal file>.lock``): the check of the approvals and
    the unseal are one step, else two approvals at once each saw both and unsealed."""
    with _IN_PROCESS:
        fd = open_own(seal_path.with_name(seal_path.name + ".lock"), os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock


def approve(
    log: AuditLog,
    *,
    subject: str,
    department: str | None,
    roles: Sequence[str],
    evidence_sha256: str,
    note: str,
    client: str | None = None,
) -> dict[str, Any]:
    """Record one approval; the second (other role, other person) unseals."""
    with _one_at_a_time(log.seal.path):
        return _approve(log, subject=subject, department=department, roles=roles,
                        evidence_sha256=evidence_sha256, note=note, client=client)  # fmt: skip


def _approve(
    log: AuditLog,
    *,
    subject: str,
    department: str | None,
    roles: Sequence[str],
    evidence_sha256: str,
    note: str,
    client: str | None,
) -> dict[str, Any]:
    seal = log.seal
    seal.refresh()
    if not seal.sealed:
        raise Conflict("the audit trail is not sealed")
    capacity = [r for r in ROLES if r in roles]
    if not capacity:
        raise Forbidden("unsealing takes a security officer and an admin")
    if not SHA256.match(evidence_sha256):
        raise BadRequest("evidence_sha256 must be 64 lower-case hex digits")
    exported = {e.get("sha256") for e in seal.state.exports}
    if evidence_sha256 not in exported:
        raise Conflict(
            "export the evidence first: GET /api/v1/audit/export while sealed, then pass "
            "the SHA-256 of the downloaded file as evidence_sha256"
        )
    approvals = seal.state.approvals
    if any(a.get("sub") == subject for a in approvals):
        raise Conflict(f"{subject!r} has already approved; a second person must approve")
    covered = {a.get("role") for a in approvals}
    role = next((r for r in capacity if r not in covered), None)
    if role is None:
        other = "an admin" if "security_officer" in covered else "a security officer"
        raise Conflict(f"the other approval must come from {other}")
    seal.record("unseal_approved", sub=subject, role=role, evidence_sha256=evidence_sha256,
                note=note, client=client)  # fmt: skip
    approvals = seal.state.approvals
    if {a.get("role") for a in approvals} >= set(ROLES):
        return _unseal(log, subject=subject, department=department, roles=roles,
                       evidence_sha256=evidence_sha256, client=client)  # fmt: skip
    waiting = "admin" if role == "security_officer" else "security_officer"
    return {"sealed": True, "approvals": approvals, "waiting_for": waiting}


def _unseal(
    log: AuditLog,
    *,
    subject: str,
    department: str | None,
    roles: Sequence[str],
    evidence_sha256: str,
    client: str | None,
) -> dict[str, Any]:
    seal = log.seal
    state = seal.state
    conn = log.store.connect(reader=True)
    try:
        anchor_seq, head_hash = log.store.read_head(conn)
    finally:
        conn.close()
    anchor_hash = None if head_hash is None else str(head_hash)
    signed, forged = checkpoints_above(log.store, anchor_seq)
    superseded_to = signed if signed > anchor_seq else 0
    walk_from, events_below, failures = _accepted_loss(log, anchor_seq)
    old_epoch = state.epoch.number
    archived = witness.archive(log.home, old_epoch)
    approvals = list(state.approvals)
    details = {
        "epoch": old_epoch + 1,
        "previous_epoch": old_epoch,
        "anchor_seq": anchor_seq,
        "anchor_hash": anchor_hash,
        "superseded_to": superseded_to,
        "forged_checkpoints": list(forged[:MAX_ACCEPTED]),
        "walk_from": walk_from,
        "events_below": events_below,
        "failures": None if failures is None else list(failures),
        "evidence_sha256": evidence_sha256,
        "seal_reason": state.reason,
        "sealed_at": state.sealed_at,
        "seal_evidence": state.evidence,
        "approvals": [
            {k: a.get(k) for k in ("sub", "role", "at", "note", "evidence_sha256")}
            for a in approvals
        ],
        "archived_witness_file": archived.name if archived is not None else None,
    }
    epoch = Epoch(old_epoch + 1, anchor_seq, superseded_to=superseded_to,
                  forged=forged[:MAX_ACCEPTED])  # fmt: skip
    log.writer.new_epoch(anchor_seq, anchor_hash, [*log.seal.superseded(), *epoch.void()])
    log.monitor.new_epoch()
    seal.record("unsealed", **{k: v for k, v in details.items() if k != "seal_evidence"})
    receipt = log.append(
        audit_access_event(
            type_=EventType.AUDIT_UNSEALED,
            actor=Actor(subject, department, tuple(roles)),
            client=client,
            details=details,
        )
    )
    _minted_while_sealed(log, state.minted)
    return {"sealed": False, "epoch": old_epoch + 1, "event_seq": receipt.seq, **details}


def _accepted_loss(
    log: AuditLog, anchor_seq: int
) -> tuple[int, int | None, tuple[int, ...] | None]:
    """Whether the chain up to the anchor still verifies: if not (a row deleted or
    edited in the middle, the loss the two people accept), the monitor's walk holds the
    events below the anchor to their number now and passes over each failure named
    here (``audit.sweep.accepted_failures``); else it walks the whole chain as before.
    Without this the walk met the accepted hole at its next step and sealed again after
    every unseal (red team 18)."""
    if anchor_seq < 1:
        return 1, None, None
    superseded = log.seal.superseded()
    found = verify_database(store=log.store, witness_file=None, to_seq=anchor_seq,
                            superseded=superseded)  # fmt: skip
    if found.ok:
        return 1, None, None
    conn = log.store.connect(reader=True)
    try:
        sql = f"SELECT count(*) FROM audit_events WHERE seq >= 1 AND seq <= {log.store.p}"
        below = int(log.store.fetch_all(conn, sql, (anchor_seq,))[0][0])
    finally:
        conn.close()
    return anchor_seq + 1, below, accepted_failures(log.store, anchor_seq, superseded)


def _minted_while_sealed(log: AuditLog, records: Sequence[dict[str, Any]]) -> None:
    """Each token ``sluice token`` minted while sealed, recorded then in the seal file
    only, goes onto the trail of the new epoch as its ``token.issued`` (red team 8: a
    week-long admin token minted while sealed never reached the chain). A line the
    trail will not take (a hand-written seal file) is logged and skipped."""
    for record in records:
        details = record.get("details")
        subject = record.get("subject")
        if not isinstance(details, dict) or not isinstance(subject, str):
            _log.warning("seal_token_record_skipped", at=record.get("at"))
            continue
        actor = Actor(str(record.get("sub")), None, ("cli",))
        try:
            log.append(token_event(actor=actor, subject=subject, details={
                **details, "recorded_while_sealed_at": record.get("at")}))  # fmt: skip
        except MalformedEvent:
            _log.warning("seal_token_record_skipped", at=record.get("at"))
