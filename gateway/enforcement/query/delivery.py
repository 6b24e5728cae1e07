"""A governed result on its way out, and the record of how its delivery ended.

Every started query (or comparison) ends on record exactly once: ``completed``,
``failed`` or ``aborted`` (client gone, client stalled, request cancelled, server
shutting down). What the record says was sent is what the transport took — the
``Ledger`` is fed by the response after each ``send`` returned, never by the encoder —
so the rows, the bytes and their SHA-256 are those that left, and the daily quota is
charged for them (the rest of the reservation is released by the end).

``InFlight`` holds every start without an end; on shutdown the broker records each as
``aborted`` with what it had sent, so no ``*.started`` is left dangling by a restart.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog

log = structlog.get_logger("sluice.delivery")

Chunk = tuple[bytes, int]  # encoded bytes and the result rows they complete


@dataclass
class Ledger:
    """What the transport took from one result."""

    rows: int = 0
    size: int = 0  # bytes
    digest: Any = field(default_factory=hashlib.sha256)

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


class Delivery(ABC):
    """One result: produced lazily by ``chunks``, taken chunk by chunk (``sent``), and
    ended once by ``complete``, ``abort`` or ``fail``; ``close`` stops the producer
    (releasing the source connection) and is safe to call at any point."""

    def __init__(self) -> None:
        self._producer: Generator[Chunk, None, None] | None = None

    def chunks(self) -> Iterator[Chunk]:
        if self._producer is None:
            self._producer = self._produce()
        return self._producer

    @property
    @abstractmethod
    def ledger(self) -> Ledger:
        """Where ``sent`` writes."""

    def sent(self, data: bytes, rows: int) -> None:
        """The transport took ``data`` (completing ``rows`` rows)."""
        self.ledger.take(data, rows)

    @abstractmethod
    def _produce(self) -> Generator[Chunk, None, None]:
        """Read, mask and encode; nothing before the start is durable."""

    @abstractmethod
    def complete(self) -> None:
        """Everything was sent."""

    @abstractmethod
    def abort(self, reason: str) -> None:
        """Stopped by the client or the server before the end (``reason`` says which)."""

    @abstractmethod
    def fail(self, exc: BaseException) -> None:
        """Stopped by an error."""

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.close()
