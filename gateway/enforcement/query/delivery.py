"""A governed result on its way out, and the record of how its delivery ended.

Every started query (or comparison) ends on record exactly once: ``completed``,
``failed`` or ``aborted`` (client gone, client stalled, request cancelled, server
shutting down). What the record says was sent is what the transport took — the
``Ledger`` is fed by the response after each ``send`` returned, never by the encoder —
so the rows, the bytes and their SHA-256 are those that left, and the daily quota is
charged for them (the rest of the reservation is released by the end).

``Started`` is the one end recorder: a query and a comparison differ in what their
events say (``_event``, ``_sent``) and in what else ends with them (a source slot, a
comparison's unread sides), never in when an end is written, how durably, or what is
given back after it. ``Delivery`` is the one adapter the HTTP response drives.

``InFlight`` holds every start without an end; on shutdown the broker records each as
``aborted`` with what it had sent, so no ``*.started`` is left dangling by a restart.
"""

from __future__ import annotations

import hashlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

import structlog

from audit.event_types import EventType, Outcome
from audit.events import FamilyEvent
from audit.records import AuditEvent
from audit.records import Delivery as Sent
from audit.sink import AuditSink
from catalog.errors import SluiceError, audited
from gateway.core.seams import UsageLimiter

log = structlog.get_logger("sluice.delivery")

Chunk = tuple[bytes, int]  # encoded bytes and the result rows they complete


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


@dataclass
class Ledger:
    """What the transport took from one result."""

    rows: int = 0
    size: int = 0  # bytes
    digest: _Digest = field(default_factory=hashlib.sha256)

    def take(self, data: bytes, rows: int) -> None:
        self.digest.update(data)
        self.size += len(data)
        self.rows += rows

    def sha256(self) -> str | None:
        """The digest of the bytes sent; ``None`` when nothing was (no empty-input hash
        posing as the hash of a result)."""
        return str(self.digest.hexdigest()) if self.size else None


class Once:
    """Lets exactly one caller through: the end of a query is recorded once, whichever
    of the response, an error path or a shutdown gets there first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.done = False

    def claim(self) -> bool:
        with self._lock:
            if self.done:
                return False
            self.done = True
            return True


class InFlight:
    """Started queries and comparisons that have no end on record yet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[int, Callable[[str], None]] = {}

    def add(self, owner: object, abort: Callable[[str], None]) -> None:
        with self._lock:
            self._items[id(owner)] = abort

    def discard(self, owner: object) -> None:
        with self._lock:
            self._items.pop(id(owner), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def abort_all(self, reason: str) -> int:
        """Record every one still open as aborted; returns how many were."""
        with self._lock:
            pending = list(self._items.values())
            self._items.clear()
        for abort in pending:
            try:
                abort(reason)
            except Exception:  # one failed record must not hide the others
                log.exception("abort_on_record_failed", reason=reason)
        return len(pending)


@dataclass(frozen=True, slots=True)
class Books:
    """Where a start's end is written and charged: the trail, the quota, and the list of
    starts still owed an end. Taken by each start from its broker when it is made, so
    its reservation goes back to the limiter it was taken from."""

    audit: AuditSink
    limiter: UsageLimiter
    in_flight: InFlight


def ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


class Started(ABC):
    """One start on record, owed exactly one end: ``complete``, ``fail`` or ``abort``.

    ``failed`` and ``aborted`` are appended durably (the caller waits); ``completed`` is
    queued (its start is already on record: a lost completion reads as "incomplete").
    After the end: off the in-flight list, ``_release`` (what else this start holds),
    and the part of the reservation that was not sent goes back to the quota."""

    kind: ClassVar[Literal["query", "comparison"]]

    def __init__(
        self, *, books: Books, subject: str, request_id: str, reserved: int,
        started_at: float | None = None,
    ) -> None:  # fmt: skip
        self.books = books
        self.subject = subject
        self.request_id = request_id
        self.reserved = reserved  # rows reserved on the daily quota
        self.ledger = Ledger()  # what the transport took
        self.end = Once()
        # when the request began (its ``duration_ms`` counts the preparation too)
        self.started_at = time.perf_counter() if started_at is None else started_at

    # -- what a kind says about itself --

    @abstractmethod
    def _event(
        self, type_: EventType, outcome: Outcome, *, sent: Sent, details: Mapping[str, object]
    ) -> AuditEvent | FamilyEvent:
        """This start's record of ``type_``."""

    @abstractmethod
    def _sent(self) -> dict[str, object]:
        """What left, beside ``rows`` and ``result_sha256`` (the ``details`` of an end)."""

    @abstractmethod
    def _before_end(self, why: str | BaseException) -> None:
        """Record the ends of what this start contains (a comparison's open sides)."""

    @abstractmethod
    def _release(self) -> None:
        """Give back what this start holds besides its reservation (a source slot)."""

    @abstractmethod
    def _counted(self, audit_s: float) -> None:
        """A completion was queued, taking ``audit_s`` on the request path."""

    def ends_in_place(self) -> bool:
        """Whether ``complete`` would wait on nothing: its record is queued without
        waiting (``append_nowait``), every reserved row was sent (so no quota release,
        on Redis a round trip, follows) and the kind's own part needs no I/O
        (``_ends_without_io``)."""
        return self.reserved <= self.ledger.rows and self._ends_without_io()

    def _ends_without_io(self) -> bool:
        """Whether this kind's completion record is built without I/O; by default it is
        not assumed, and the end runs in the thread pool."""
        return False

    # -- the one end --

    def on_record(self) -> None:
        """The start is submitted: from now on a shutdown records this one as aborted."""
        self.books.in_flight.add(self, self.abort)

    def complete(self) -> None:
        """Everything was sent."""
        self.completed(rows=self.ledger.rows, result_sha256=self.ledger.sha256(),
                       details=self._sent())  # fmt: skip

    def completed(
        self, *, rows: int, result_sha256: str | None, details: Mapping[str, object]
    ) -> None:
        if not self.end.claim():
            return
        sent = Sent(rows=rows, result_sha256=result_sha256, duration_ms=ms_since(self.started_at))
        event = self._event(EventType(f"{self.kind}.completed"), Outcome.OK,
                            sent=sent, details=details)  # fmt: skip
        t = time.perf_counter()
        try:
            self.books.audit.append_nowait(event)
        finally:
            self._settle()
        self._counted(time.perf_counter() - t)

    def fail(self, exc: BaseException) -> None:
        """Stopped by an error (a cancellation or interpreter exit is an abort)."""
        if not isinstance(exc, Exception):
            self.abort("cancelled")
            return
        if not self.end.claim():
            return
        error = exc.to_dict() if isinstance(exc, SluiceError) else {"code": "internal"}
        log.warning(f"{self.kind}_failed", request_id=self.request_id, error=error.get("code"))
        try:
            self._before_end(exc)
            self.books.audit.append(self._end_event("failed", Outcome.ERROR,
                                                    {"error": error}))  # fmt: skip
            audited(exc)  # on record: gateway.web.refusals must not record it again
        finally:
            self._settle()

    def abort(self, reason: str) -> None:
        """Stopped before the end by the client (gone, stalled), a cancellation or the
        server's shutdown: on record with what had been sent, durably."""
        if not self.end.claim():
            return
        log.info(f"{self.kind}_aborted", request_id=self.request_id, reason=reason,
                 rows=self.ledger.rows)  # fmt: skip
        try:
            self._before_end(reason)
            self.books.audit.append(self._end_event("aborted", Outcome.ABORTED,
                                                    {"reason": reason}))  # fmt: skip
        finally:
            self._settle()

    def _end_event(
        self, end: str, outcome: Outcome, why: dict[str, object]
    ) -> AuditEvent | FamilyEvent:
        sent = Sent(rows=self.ledger.rows, result_sha256=self.ledger.sha256(),
                    duration_ms=ms_since(self.started_at))  # fmt: skip
        return self._event(EventType(f"{self.kind}.{end}"), outcome, sent=sent,
                           details={**why, **self._sent()})  # fmt: skip

    def _settle(self) -> None:
        self.books.in_flight.discard(self)
        self._release()
        unsent = self.reserved - self.ledger.rows
        if unsent > 0:
            try:
                self.books.limiter.release_rows(self.subject, unsent)
            except Exception:  # the record is written; an unreleased rest only over-charges
                log.warning("quota_release_failed", request_id=self.request_id, rows=unsent)


class Delivery:
    """One result: produced lazily by ``chunks``, taken chunk by chunk (``sent``), and
    ended once by ``complete``, ``abort`` or ``fail``; ``close`` stops the producer
    (releasing the source connection) and is safe to call at any point."""

    def __init__(self, start: Started, produce: Callable[[], Generator[Chunk, None, None]]) -> None:
        self.start = start
        self._produce = produce
        self._producer: Generator[Chunk, None, None] | None = None

    def chunks(self) -> Iterator[Chunk]:
        if self._producer is None:
            self._producer = self._produce()
        return self._producer

    def sent(self, data: bytes, rows: int) -> None:
        """The transport took ``data`` (completing ``rows`` rows)."""
        self.start.ledger.take(data, rows)

    def complete(self) -> None:
        self.start.complete()

    def completes_in_place(self) -> bool:
        """Whether ``complete`` would wait on nothing (``Started.ends_in_place``): the
        response then ends it on the event loop instead of in the thread pool."""
        return self.start.ends_in_place()

    def abort(self, reason: str) -> None:
        self.start.abort(reason)

    def fail(self, exc: BaseException) -> None:
        self.start.fail(exc)

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.close()
