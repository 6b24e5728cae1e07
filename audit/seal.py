"""The seal: durable state, kept outside the audit database, that stops the trail.

When the chain disagrees with what its witnesses saw (a lower head, another hash at a
witnessed seq, a missing checkpoint) the evidence must not depend on the database that
was tampered with. So the seal lives in ``<home>/audit-seal.jsonl``: one fsynced JSON
line per record, appended with O_APPEND, replayed on start (a sealed gateway stays
sealed across restarts) and re-read whenever the file grows (a ``sluice audit verify``
run in another process seals the running gateway within one monitor tick).

Records (``kind``):
- ``sealed``: the critical alert — reason, evidence, time;
- ``access``: a read of the trail while sealed (it cannot go into the broken chain), or
  a token minted by ``sluice token`` (``action`` ``token.issued``; appended to the trail
  after the unseal's ``audit.unsealed``);
- ``evidence_exported``: a complete export taken while sealed, with its SHA-256;
- ``unseal_approved``: one person's approval (subject, role, the export's SHA-256);
- ``unsealed``: a new epoch begins at the database head as found (its anchor).

The hot path reads one attribute, ``sealed``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.canonical import canonical_json
from audit.events import format_ts, utc_now
from audit.jsonl import append_line, read_objects
from audit.lazy_log import get_logger
from audit.sweep import Accepted

SEAL_NAME = "audit-seal.jsonl"
log = get_logger("sluice.audit")


@dataclass(frozen=True, slots=True)
class Epoch:
    """A stretch of the chain vouched for by one set of witnesses.

    Epoch 0 starts at genesis. An unseal starts epoch n+1 at ``anchor_seq`` (the
    database head as found, the loss accepted on record); checkpoints of the old epoch
    left in the database above the anchor (up to ``superseded_to``) no longer describe
    the chain, and new checkpoints at those seqs go to the witnesses only."""

    number: int
    anchor_seq: int = 0
    anchor_hash: str | None = None
    superseded_to: int = 0
    # the chain up to the anchor failed verification at the unseal (a row deleted or
    # edited in the middle, accepted with the loss): the monitor's walk verifies from
    # ``walk_from`` and holds the events below it to the number found then
    walk_from: int = 1
    events_below: int | None = None
    failures: tuple[int, ...] | None = None  # each failure below it, named at the unseal
    # checkpoint rows above the anchor no gateway signed (an insider's, the evidence the
    # unseal was about): left in the database, named, void at their own seqs only
    forged: tuple[int, ...] = ()

    def void(self) -> list[tuple[int, int]]:
        """Seq ranges ``(lo, hi]`` whose database checkpoints this unseal declared void:
        the old epoch's signed ones up to ``superseded_to``, and each forged row's seq
        (never the stretch up to it: one row far above the head made the epoch
        witness-only for good, red team 34's left row)."""
        spans = (
            [(self.anchor_seq, self.superseded_to)] if self.superseded_to > self.anchor_seq else []
        )
        return spans + [(seq - 1, seq) for seq in self.forged]


@dataclass
class SealState:
    sealed: bool = False
    reason: str | None = None
    sealed_at: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    epoch: Epoch = field(default_factory=lambda: Epoch(0))
    epochs: list[Epoch] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    exports: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    # ``sluice token`` while sealed: each goes onto the trail at the unseal (red team 8)
    minted: list[dict[str, Any]] = field(default_factory=list)


class SealStore:
    """The seal file of one Sluice home; thread-safe; ``sealed`` is the fast check."""

    def __init__(self, home: Path, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.path = home / SEAL_NAME
        self.clock = clock
        self._lock = threading.Lock()
        self._size = -1
        self.state = SealState()
        self.sealed = False
        self.refresh()

    # -- reading -------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the file if it changed (another process may have sealed)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size == self._size:
            return
        with self._lock:
            state = SealState()
            if size:
                for record in read_objects(self.path):
                    _apply(state, record)
            self.state, self._size, self.sealed = state, size, state.sealed

    @property
    def reason(self) -> str | None:
        return self.state.reason

    @property
    def epoch(self) -> Epoch:
        return self.state.epoch

    def message(self) -> str:
        return f"audit trail sealed: {self.state.reason}"

    def superseded(self) -> list[tuple[int, int]]:
        """Seq ranges whose old database checkpoints are void (``Epoch.void``)."""
        return [span for e in self.state.epochs for span in e.void()]

    def accepted(self) -> Accepted:
        """What the newest unseal accepted, as the monitor's walk reads it."""
        epoch = self.state.epoch
        return Accepted(epoch.walk_from, epoch.events_below, epoch.failures)

    def accepted_below(self, seq: int | None) -> bool:
        """Whether a failure at ``seq`` lies below where the newest unseal accepted a
        loss (``accepted``): the hole two people accepted, not new evidence. A whole
        trail's verification names it first ever after; sealing on it again made every
        routine verification seal (red team 18)."""
        accepted = self.accepted()
        if seq is None:
            return False
        if accepted.failures is not None:
            return seq in accepted.failures
        return seq < accepted.walk_from

    def summary(self) -> dict[str, Any]:
        s = self.state
        return {
            "sealed": s.sealed,
            "reason": s.reason,
            "sealed_at": s.sealed_at,
            "evidence": s.evidence or None,
            "epoch": s.epoch.number,
            "approvals": list(s.approvals),
            "evidence_exports": list(s.exports),
        }

    # -- writing -------------------------------------------------------------------

    def _append(self, record: dict[str, Any]) -> None:
        record = {"at": format_ts(self.clock()), **record}
        with self._lock:
            append_line(self.path, canonical_json(record))
            self._size = -1
        self.refresh()  # replay the whole file: another process may have written too

    def seal(self, reason: str, evidence: dict[str, Any] | None = None) -> bool:
        """Seal (the critical alert); False if already sealed (first evidence wins)."""
        self.refresh()
        if self.sealed:
            return False
        self._append({"kind": "sealed", "rule": "audit.sealed", "severity": "critical",
                      "reason": reason, "evidence": evidence or {}})  # fmt: skip
        log.critical("audit_sealed", reason=reason, evidence=evidence or {})
        return True

    def record(self, kind: str, **fields: Any) -> None:
        """``access``, ``evidence_exported``, ``unseal_approved`` or ``unsealed``."""
        if kind not in {"access", "evidence_exported", "unseal_approved", "unsealed"}:
            raise ValueError(kind)
        self._append({"kind": kind, **fields})


def _apply(state: SealState, record: dict[str, Any]) -> None:
    kind = record.get("kind")
    if kind == "sealed" and not state.sealed:
        state.sealed = True
        state.reason = str(record.get("reason"))
        state.sealed_at = record.get("at")
        state.evidence = dict(record.get("evidence") or {})
        state.approvals, state.exports, state.minted = [], [], []
        state.history.append(record)
    elif kind == "access" and state.sealed and record.get("action") == "token.issued":
        state.minted.append(record)
    elif kind == "evidence_exported" and state.sealed:
        state.exports.append(record)
    elif kind == "unseal_approved" and state.sealed:
        state.approvals.append(record)
    elif kind == "unsealed" and state.sealed:
        epoch = Epoch(
            number=int(record["epoch"]),
            anchor_seq=int(record["anchor_seq"]),
            anchor_hash=record.get("anchor_hash"),
            superseded_to=int(record.get("superseded_to") or 0),
            walk_from=int(record.get("walk_from") or 1),
            events_below=_count(record.get("events_below")),
            failures=_seqs(record.get("failures")),
            forged=_seqs(record.get("forged_checkpoints")) or (),
        )
        state.epoch = epoch
        state.epochs.append(epoch)
        state.sealed, state.reason, state.sealed_at, state.evidence = False, None, None, {}
        state.approvals, state.exports, state.minted = [], [], []
        state.history.append(record)


def _count(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _seqs(value: Any) -> tuple[int, ...] | None:
    if not isinstance(value, list) or not all(type(v) is int for v in value):
        return None
    return tuple(value)
