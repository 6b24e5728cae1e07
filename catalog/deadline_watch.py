"""One thread that watches every deadline of an exchange with another system: a SQL
source's fetch (``adapters.sql_deadline``), an HTTP source's page, an alert's webhook
push or mail, a witness's answer (``catalog.http_deadline``).

Each of them ends a stalled exchange the same way, by shutting its socket down from
outside, which wakes the read blocked on it. They used to keep a deadline in two ways
(a heap for SQL fetches, a ``threading.Timer`` — a new thread — for each HTTP
exchange), and starting a thread per exchange was the larger cost of a small source
read. Here a deadline is armed with a push on a heap under a lock, and one daemon
thread, started on first use, runs each one that comes due.

``disarm`` returns only once the expiry can no longer run (it runs under the same
lock), so a connection handed back to a pool after a block is never cut afterwards.
An expiry must therefore be short and must not arm or disarm (a socket shutdown).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True)
class Armed:
    """One exchange's deadline (``fired`` once its expiry ran)."""

    due: float
    order: int
    expire: Callable[[], None] = field(compare=False)
    done: bool = field(default=False, compare=False)
    fired: bool = field(default=False, compare=False)


class DeadlineWatch:
    """Deadlines in flight, watched by one daemon thread started on first use."""

    def __init__(self, name: str = "sluice-deadlines") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[Armed] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, expire: Callable[[], None]) -> Armed:
        """Run ``expire`` in ``seconds`` unless disarmed first."""
        armed = Armed(time.monotonic() + seconds, next(self._order), expire)
        with self._cond:
            while self._heap and self._heap[0].done:  # exchanges that ended: gone
                heapq.heappop(self._heap)
            heapq.heappush(self._heap, armed)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, daemon=True,
                                                name=self._name)  # fmt: skip
                self._thread.start()
            if self._heap[0] is armed:
                self._cond.notify()
        return armed

    def disarm(self, armed: Armed) -> None:
        """After this returns the expiry has run (``armed.fired``) or never will."""
        with self._cond:
            armed.done = True

    def pending(self) -> int:
        """Deadlines armed and not yet disarmed nor fired (for tests and metrics)."""
        with self._cond:
            return sum(1 for a in self._heap if not a.done)

    def _watch(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0].due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                armed = heapq.heappop(self._heap)
                armed.done = armed.fired = True
                with contextlib.suppress(Exception):  # one expiry never stops the watch
                    armed.expire()


WATCH = DeadlineWatch()
