"""A run's row as the worker moves it on: each change in its own short transaction.

The worker thread never holds a session across a side's read or the engine's join:
status and progress are written and committed at once, so a poll from any replica
sees them, and a cancel written by any replica (``cancel_requested``) is seen by the
worker at its next progress write.

The lease: the worker writes its process's id (``worker``) and a first
``heartbeat_at`` when it takes the run (``start``); renewing it and failing the runs of
a process that died are ``run_lease``'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import structlog
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from catalog.comparison_models import ComparisonRun, ComparisonRunResult, RunStatus
from catalog.errors import SluiceError
from catalog.timestamps import as_utc

log = structlog.get_logger("sluice.comparison")
PROGRESS_STEP = 0.05  # a progress write at most every 5 %
_R = ComparisonRun
UNFINISHED = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
# a run whose process died (run_lease), the error as on record before the lease
INTERRUPTED = {"code": "interrupted", "message": "the gateway stopped before the run ended"}


def error_body(exc: BaseException) -> dict[str, Any]:
    """What a failed run tells its owner: the error's code and message, never a trace."""
    if isinstance(exc, SluiceError):
        return exc.to_dict()
    return {"code": "internal", "message": "the run failed; the gateway's log has the cause"}


def ipc_bytes(table: pa.Table) -> bytes:
    """The hit list as one Arrow IPC stream (zstd when this pyarrow has it)."""
    sink = pa.BufferOutputStream()
    try:
        options = pa.ipc.IpcWriteOptions(compression="zstd")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # pragma: no cover - build option
        options = pa.ipc.IpcWriteOptions()
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def past_expiry(expires_at: datetime | None, now: datetime | None = None) -> bool:
    """Whether a hit list kept until ``expires_at`` is past its keeping (SQLite gives
    the moment back naive: it was written in UTC)."""
    if expires_at is None:
        return False
    return as_utc(expires_at) <= (now or datetime.now(UTC))


def past_keeping(run: ComparisonRun, ttl: timedelta, now: datetime | None = None) -> bool:
    """Whether a done run's hit list is past its keeping: its ``expires_at`` (the keeping
    of the day it finished) or its finish plus ``ttl``, the keeping set now, whichever
    comes first. A lowered ``SLUICE_COMPARISON_RUN_TTL_DAYS`` governs the lists already
    kept: compared with ``expires_at`` only, a list finished 10 days before the setting
    went from 30 to 7 was served 20 days more (red team 57)."""
    if run.expires_at is None:  # not done: no list to keep
        return False
    if past_expiry(run.expires_at, now):
        return True
    return run.finished_at is not None and past_expiry(run.finished_at + ttl, now)


def read_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


class RunStore:
    """The worker's writes to ``comparison_runs`` and ``comparison_run_results``."""

    def __init__(self, sessions: sessionmaker[Session], *, ttl_days: int, worker: str = "") -> None:
        self._sessions = sessions
        self.ttl = timedelta(days=ttl_days)
        self.worker = worker
        self._written: dict[str, float] = {}

    def _set(self, run_id: str, **values: object) -> None:
        with self._sessions() as session:
            session.execute(update(ComparisonRun).where(_R.id == run_id).values(**values))
            session.commit()

    def get(self, run_id: str) -> ComparisonRun | None:
        with self._sessions() as session:
            return session.get(ComparisonRun, run_id)

    def start(self, run_id: str) -> bool:
        """Queued → running, unless it was cancelled meanwhile (compare-and-set: a
        cancel and a worker never both win)."""
        with self._sessions() as session:
            moved = session.execute(
                update(ComparisonRun)
                .where(_R.id == run_id, _R.status == RunStatus.QUEUED.value,
                       _R.cancel_requested.is_(False))
                .values(status=RunStatus.RUNNING.value, started_at=datetime.now(UTC),
                        progress=0.02, worker=self.worker, heartbeat_at=datetime.now(UTC))
            )  # fmt: skip
            session.commit()
        return bool(rowcount(moved))

    def describe(self, run_id: str, *, columns: list[dict[str, Any]],
                 sides: Mapping[str, Any]) -> None:  # fmt: skip
        """What the hit list will hold and each side's request and decision."""
        self._set(run_id, columns=columns, sides=dict(sides), progress=0.05)

    def progress(self, run_id: str, fraction: float) -> bool:
        """Write the progress if it moved enough; returns whether a cancel was asked
        (by any replica) since."""
        fraction = round(min(max(fraction, 0.0), 0.99), 3)
        if fraction - self._written.get(run_id, 0.0) >= PROGRESS_STEP:
            self._written[run_id] = fraction
            self._set(run_id, progress=fraction)
        with self._sessions() as session:
            asked = session.scalar(select(_R.cancel_requested).where(_R.id == run_id))
        return bool(asked)

    def done(self, run_id: str, *, hits: pa.Table, truncated: bool,
             extra: Mapping[str, object] | None = None) -> tuple[bytes, str] | None:  # fmt: skip
        """Store the hit list and mark the run done, in one transaction, only if it is
        still running and no cancel was asked: a cancel and a completion racing each
        other decide one final state (the cancel's compare-and-set in
        ``run_service.cancel`` is the other half). Returns the bytes stored and their
        SHA-256, or None when the cancel (or a recovery) won and nothing was stored."""
        data = ipc_bytes(hits)
        digest = hashlib.sha256(data).hexdigest()
        now = datetime.now(UTC)
        with self._sessions() as session:
            moved = session.execute(update(ComparisonRun).where(
                _R.id == run_id, _R.status == RunStatus.RUNNING.value,
                _R.cancel_requested.is_(False),
            ).values(
                status=RunStatus.DONE.value, progress=1.0, hits=hits.num_rows,
                truncated=truncated, finished_at=now, expires_at=now + self.ttl, **(extra or {}),
            ))  # fmt: skip
            if not rowcount(moved):
                session.rollback()
                return None
            session.add(ComparisonRunResult(run_id=run_id, data=data, sha256=digest))
            session.commit()
        self._written.pop(run_id, None)
        try:  # the lists past their keeping go as new ones come (red team 55: nothing did)
            self.purge_expired(now)
        except SQLAlchemyError as exc:  # the run is done all the same; the next one tries
            log.warning("comparison_purge_failed", error=type(exc).__name__)
        return data, digest

    def ended(self, run_id: str, status: RunStatus, error: dict[str, Any] | None = None) -> bool:
        """Failed or cancelled, only from queued or running (compare-and-set: a run
        already done, failed or cancelled keeps its one final state)."""
        self._written.pop(run_id, None)
        with self._sessions() as session:
            moved = session.execute(
                update(ComparisonRun)
                .where(_R.id == run_id, _R.status.in_(UNFINISHED))
                .values(status=status.value, error=error, finished_at=datetime.now(UTC))
            )  # fmt: skip
            session.commit()
        return bool(rowcount(moved))

    def purge_expired(self, now: datetime | None = None) -> int:
        """Drop the hit lists past their keeping (``past_keeping``; the runs, counts and
        leads stay)."""
        now = now or datetime.now(UTC)
        with self._sessions() as session:
            expired = select(_R.id).where(
                _R.expires_at.is_not(None),
                or_(_R.expires_at <= now, _R.finished_at <= now - self.ttl),
            )
            gone = session.execute(
                delete(ComparisonRunResult).where(ComparisonRunResult.run_id.in_(expired))
            )
            session.commit()
        return rowcount(gone)


def rowcount(result: object) -> int:
    """Rows an UPDATE or DELETE touched (``CursorResult.rowcount``)."""
    return int(getattr(result, "rowcount", 0) or 0)
