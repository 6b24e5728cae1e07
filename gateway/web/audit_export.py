"""The audit export on its way out: sent and governed as a query's result is.

``GET /api/v1/audit/export`` (and the console's export) hands an ``ExportDelivery`` to
``gateway.web.routes.streaming.respond``, the one sender of governed results, so an
export has the query's bounds (red team 24's left row):

- a client that takes nothing for ``stream_stall_timeout_s`` is cut off, and the
  store's connection closed then and there (``close`` closes
  ``audit.export.export_lines``); no snapshot of the audit store (on PostgreSQL the
  xmin horizon of the whole database, on SQLite the WAL no checkpoint can reset beside
  it) is held meanwhile either: the events are read a page at a time, each page its
  own read, up to the head as it was when the export began;
- the officer's account is read again every ``stream_govern_every_s`` while the export
  is produced (``governs``: suspended, or ``audit:export`` no longer theirs), and the
  rest is refused.

The export's ``audit.exported`` is on record before its first byte, as every audit read
is, and every export adds its end under the same request id, as a query does:
``audit.export_completed`` once every byte was taken, ``audit.export_aborted`` (the
reason: ``client_stalled``, ``client_disconnected``, ``cancelled``, or the refusal's
code) or ``audit.export_failed`` (an error while it was read), with what had left — the
events (``rows``), the SHA-256 of the bytes (``result_sha256``), ``bytes_sent`` and the
last event's ``last_seq``. A start with no end (a gateway killed mid-export) is what the
``query_never_ended`` rule flags (an export sent whole added no end before, so nothing
told the two apart). A sealed trail's whole export also leaves its evidence digest in
the seal file (``evidence``), written only once every byte has been taken.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any

from audit.event_types import EventType, Outcome
from audit.export import ExportTally
from audit.records import Delivery as Sent
from catalog.errors import SluiceError, audited
from gateway.enforcement.query.delivery import Chunk, Once, ms_since

# lines are sent in batches of about this many bytes: one thread-pool hop each
BATCH_BYTES = 64 * 1024

Lines = Generator[tuple[bytes, "int | None"], None, None]
# an end on record: (type, outcome, details, what left)
Record = Callable[[EventType, Outcome, Mapping[str, object], Sent], None]


class ExportDelivery:
    """One export (``audit.export.export_lines``), produced in batches as it is sent;
    counts what the transport took and records an end cut short once. ``evidence``:
    called with the SHA-256 and size of the whole export once it has all been taken (a
    sealed trail's evidence)."""

    def __init__(
        self, lines: Callable[[], Lines], *, record: Record,
        evidence: Callable[[str, int], None] | None = None,
    ) -> None:  # fmt: skip
        self._lines = lines
        self._record = record
        self._evidence = evidence
        self._producer: Generator[Chunk, None, None] | None = None
        self._last_seqs: deque[int | None] = deque()  # of each batch produced, not yet sent
        self.tally = ExportTally()  # what the transport took
        self.end = Once()
        self.began = time.perf_counter()

    def chunks(self) -> Iterator[Chunk]:
        if self._producer is None:
            self._producer = self._batches()
        return self._producer

    def _batches(self) -> Generator[Chunk, None, None]:
        lines = self._lines()
        batch: list[bytes] = []
        size = events = 0
        last: int | None = None
        try:
            for line, seq in lines:
                batch.append(line)
                size += len(line)
                if seq is not None:
                    events, last = events + 1, seq
                if size >= BATCH_BYTES:
                    self._last_seqs.append(last)
                    yield b"".join(batch), events
                    batch, size, events = [], 0, 0
            if batch:
                self._last_seqs.append(last)
                yield b"".join(batch), events
        finally:
            lines.close()  # the store's reader: closed however the export ends

    def sent(self, data: bytes, rows: int) -> None:
        """The transport took ``data`` (``rows`` events)."""
        self.tally.add(data, rows, self._last_seqs.popleft() if self._last_seqs else None)

    def complete(self) -> None:
        if not self.end.claim():
            return
        self._end(EventType.AUDIT_EXPORT_COMPLETED, Outcome.OK, {})
        if self._evidence is not None:
            self._evidence(self.tally.digest.hexdigest(), self.tally.size)

    def completes_in_place(self) -> bool:
        return False  # its end is a durable record (``record_audit_read``): in the pool

    def abort(self, reason: str) -> None:
        if self.end.claim():
            self._end(EventType.AUDIT_EXPORT_ABORTED, Outcome.ABORTED, {"reason": reason})

    def fail(self, exc: BaseException) -> None:
        if not isinstance(exc, Exception):  # a cancellation, the interpreter's exit
            self.abort("cancelled")
            return
        if not self.end.claim():
            return
        error: dict[str, Any] = exc.to_dict() if isinstance(exc, SluiceError) else {}
        self._end(EventType.AUDIT_EXPORT_FAILED, Outcome.ERROR,
                  {"error": {"code": error.get("code", "internal")}})  # fmt: skip
        audited(exc)  # on record: gateway.web.refusals must not record it again

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.close()

    def _end(self, type_: EventType, outcome: Outcome, why: dict[str, object]) -> None:
        self._record(type_, outcome, self.tally.details(why),
                     self.tally.delivery(ms_since(self.began)))  # fmt: skip
