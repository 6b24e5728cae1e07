"""The lease on comparison runs: which process holds a run, and ending the runs of a
process that died, so several replicas can run comparisons on one catalog (issue 15).

Every run a runner holds (queued on it or running) is leased to its process: the row
names the process (``worker``, from ``worker_id``: host, pid and a random part) and
its ``heartbeat_at`` (columns of migration ``0014_comparison_run_lease``; the worker
claims a run in ``RunStore.start``). One background thread per runner renews the
heartbeat of all the runs it holds every few seconds in one UPDATE, and sweeps: a run
whose heartbeat is older than the lease (``SLUICE_COMPARISON_RUN_LEASE_S``) belongs to a
process that died, and is failed (``interrupted``, ``comparison_run.interrupted`` on
record once: compare-and-set on the status and the still-expired heartbeat). The same
sweep runs at start-up, so a restarted replica ends its predecessor's runs at once when
their lease has run out, and leaves the runs of the other live replicas alone.

Times are each replica's own clock: keep the replicas' clocks in step (NTP) well within
the lease.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from audit.event_types import EventType
from audit.records import Actor, comparison_run_event
from audit.sink import AuditSink
from catalog.comparison_models import ComparisonRun, RunStatus
from gateway.enforcement.comparison.run_store import INTERRUPTED, UNFINISHED, rowcount

log = structlog.get_logger("sluice.comparison_runs")
SYSTEM = Actor("gateway", None, ("system",))  # the gateway itself, at start-up
_R = ComparisonRun


def worker_id() -> str:
    """This process on the runs it holds: host, pid and a random part (a pid reused by
    a later process on the same host is not the same worker)."""
    return f"{socket.gethostname()[:96]}:{os.getpid()}:{secrets.token_hex(4)}"


class RunLease:
    """One process's lease on the runs it holds, and its sweep of expired ones.

    ``held`` says which runs this process holds now (queued or running here): they are
    renewed at every beat and never taken by its own sweep."""

    def __init__(
        self, sessions: sessionmaker[Session], *, audit: AuditSink, lease_s: float,
        worker: str, held: Callable[[], Collection[str]],
    ) -> None:  # fmt: skip
        self._sessions = sessions
        self._audit = audit
        self.lease = timedelta(seconds=lease_s)
        self.worker = worker
        self._held = held
        self._beat_s = max(0.05, min(5.0, lease_s / 4))  # several renewals within one lease
        self.sweeps = 0
        """Sweeps this lease finished (at start-up and at each beat): what a replica has
        looked at so far, for whoever waits on it (the lease tests)."""
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def renew(self, run_ids: Collection[str]) -> int:
        """One heartbeat for every unfinished run this process holds (one UPDATE)."""
        if not run_ids:
            return 0
        with self._sessions() as session:
            moved = session.execute(
                update(ComparisonRun)
                .where(_R.id.in_(list(run_ids)), _R.status.in_(UNFINISHED))
                .values(worker=self.worker, heartbeat_at=datetime.now(UTC))
            )  # fmt: skip
            session.commit()
        return rowcount(moved)

    def sweep(self) -> None:
        """Runs left queued or running by a process that died never end by themselves:
        those whose lease ran out are failed (``interrupted``), each on record once — at
        start-up and at every beat. A run another live replica holds is renewed by it,
        so it is never taken."""
        for row in self.interrupt_expired(held=set(self._held())):
            self._audit.append(comparison_run_event(
                type_=EventType.COMPARISON_RUN_INTERRUPTED, actor=SYSTEM, run_id=row.id,
                purpose=row.purpose, case_ref=row.case_ref, request_id=row.request_id,
                details={"model": row.model_id, "model_version": row.model_version,
                         "owner": row.owner, "status_before": row.status,
                         "reason": "interrupted"},
            ))  # fmt: skip
        self.sweeps += 1

    def _expired(self, cutoff: datetime) -> ColumnElement[bool]:
        """No heartbeat since ``cutoff``. A NULL heartbeat (a row from before migration
        0014, or a process that died before its first) is expired once the row itself
        is older than the lease: the instant between a run's row being committed and
        its process claiming it is not mistaken for a dead process."""
        return or_(_R.heartbeat_at < cutoff,
                   and_(_R.heartbeat_at.is_(None), _R.created_at < cutoff))  # fmt: skip

    def interrupt_expired(self, *, held: Collection[str] = ()) -> list[ComparisonRun]:
        """Runs whose process stopped renewing their lease can never end by themselves,
        so they are failed (``interrupted``); ``held`` (this process's own runs) are
        never taken. Returns the runs this call moved, each by its own compare-and-set
        on status and the still-expired heartbeat: two replicas sweeping at once never
        both move one run, and a run renewed meanwhile is left alone."""
        cutoff = datetime.now(UTC) - self.lease
        with self._sessions() as session:
            left = list(session.scalars(select(ComparisonRun).where(
                _R.status.in_(UNFINISHED), self._expired(cutoff),
            )))  # fmt: skip
            session.expunge_all()
        return [run for run in left if run.id not in held and self._interrupt(run.id, cutoff)]

    def _interrupt(self, run_id: str, cutoff: datetime) -> bool:
        with self._sessions() as session:
            moved = session.execute(
                update(ComparisonRun)
                .where(_R.id == run_id, _R.status.in_(UNFINISHED), self._expired(cutoff))
                .values(status=RunStatus.FAILED.value, error=INTERRUPTED,
                        finished_at=datetime.now(UTC))
            )  # fmt: skip
            session.commit()
        return bool(rowcount(moved))

    def start(self) -> None:
        """Renew this process's leases and sweep expired ones, from one daemon thread."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._beat_loop, daemon=True,
                                            name="sluice-compare-lease")  # fmt: skip
            self._thread.start()

    def stop(self) -> None:
        """No more renewals: other replicas take this process's runs once the lease
        runs out (what a killed process looks like to them)."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _beat_loop(self) -> None:
        while not self._stopping.wait(self._beat_s):
            try:
                self.renew(list(self._held()))
                self.sweep()
            except Exception:  # a catalog hiccup: the next beat tries again
                log.exception("comparison_lease_beat_failed")
