"""Bounds on the source connections a query may hold: per user and per source.

A slot is taken when a query is prepared (before ``query.started``) and given back as
soon as its read of the source ends — exhausted, closed early, failed, or aborted — so
it covers the time a pooled source connection can be checked out for it. A user over
their share gets 429 at once. A source whose slots are all taken makes the query wait at
most ``wait_s`` (a burst of short queries queues for milliseconds instead of failing),
then 503: since no user holds more than their share and a stalled client is cut off,
one analyst's slow readers cannot make others wait for the source's pool (which, past
its 30 s timeout, answered 502 to everyone).

Counts are per gateway process, like the pools they protect.
"""

from __future__ import annotations

import threading
from collections import Counter

from catalog.errors import RateLimited, Unavailable


class TooManyStreams(RateLimited):
    """The user already has their share of this source's connections."""

    code = "too_many_streams"


class SourceBusy(Unavailable):
    """Every connection this gateway may open to the source is in use."""

    code = "source_busy"


class Slot:
    """One held slot; ``release`` is idempotent (called on every way a read ends)."""

    def __init__(self, slots: StreamSlots, source_id: str, subject: str) -> None:
        self._slots = slots
        self._key = (source_id, subject)
        self._held = True
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if not self._held:
                return
            self._held = False
        self._slots._give_back(*self._key)


class StreamSlots:
    def __init__(self, *, per_source: int, per_user: int, wait_s: float = 2.0) -> None:
        self.per_source = per_source
        self.per_user = per_user
        self.wait_s = wait_s
        self._lock = threading.Condition()
        self._by_source: Counter[str] = Counter()
        self._by_user: Counter[tuple[str, str]] = Counter()

    def acquire(self, source_id: str, subject: str) -> Slot:
        """Take a slot: refuse the user's excess at once, wait briefly for a busy source."""
        with self._lock:
            if self._by_user[(source_id, subject)] >= self.per_user:
                raise TooManyStreams(
                    f"you already have {self.per_user} queries reading from source "
                    f"{source_id!r}; wait for one to finish (or close it) and retry"
                )
            free = self._lock.wait_for(
                lambda: self._by_source[source_id] < self.per_source, timeout=self.wait_s
            )
            if not free:
                raise SourceBusy(
                    f"source {source_id!r} is busy: all {self.per_source} of its "
                    "connections are in use; retry shortly"
                )
            self._by_user[(source_id, subject)] += 1
            self._by_source[source_id] += 1
        return Slot(self, source_id, subject)

    def in_use(self, source_id: str) -> int:
        with self._lock:
            return self._by_source[source_id]

    def _give_back(self, source_id: str, subject: str) -> None:
        with self._lock:
            self._by_user[(source_id, subject)] -= 1
            self._by_source[source_id] -= 1
            if self._by_user[(source_id, subject)] <= 0:
                del self._by_user[(source_id, subject)]
            if self._by_source[source_id] <= 0:
                del self._by_source[source_id]
            self._lock.notify()
