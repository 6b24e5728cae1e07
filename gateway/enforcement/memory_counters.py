"""The rate window and the row counters of one gateway process, when no Redis is set.

Why not ``limits``' own memory storage: it schedules its expiry on every hit by starting
a ``threading.Timer`` of 10 ms whenever the last one has finished, so under steady
traffic the request path starts a thread about every 10 ms. Measured on the governed
small query (embedded default, one thread, py-spy): 12 % of the route's time was
``Thread.start`` inside ``MemoryStorage.acquire_entry``. Here expiry is lazy (a key is
trimmed when it is used) and one sweep per ``SWEEP_EVERY_S`` drops keys nobody used
since, on the calling thread: no thread at all.

The semantics are ``limits``' (the Redis path still uses it, and both answer alike):

- a **moving window** of ``amount`` hits per ``expiry`` seconds: a hit is allowed when
  fewer than ``amount`` hits were allowed in the last ``expiry`` seconds;
- a **fixed window** counter that starts at its first increment and is forgotten
  ``expiry`` seconds later (the daily row quota).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

SWEEP_EVERY_S = 60.0


class MemoryCounters:
    """Thread-safe; one lock for all keys (every operation is a few dictionary steps)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[str, tuple[float, deque[float]]] = {}  # key: (expiry, times)
        self._counts: dict[str, list[float]] = {}  # key: [count, expires_at]
        self._swept = clock()

    def check(self) -> None:
        """Nothing to reach (``Limiter.check``: a Redis store may be down)."""

    def hit(self, key: str, amount: int, expiry: float) -> bool:
        """Count a hit in the moving window, or refuse it (False) when ``amount`` hits
        were allowed in the last ``expiry`` seconds."""
        now = self._clock()
        with self._lock:
            self._sweep(now)
            _, times = self._hits.setdefault(key, (expiry, deque()))
            while times and times[0] <= now - expiry:
                times.popleft()
            if len(times) >= amount:
                return False
            times.append(now)
            return True

    def count(self, key: str) -> int:
        """The fixed window's count (0 once it has expired)."""
        with self._lock:
            return int(self._live(key, self._clock())[0])

    def reserve(self, key: str, limit: int, wanted: int, expiry: float) -> int:
        """Grant ``min(wanted, limit - count)`` and add it, in one step."""
        now = self._clock()
        with self._lock:
            entry = self._live(key, now)
            grant = min(wanted, limit - int(entry[0]))
            if grant <= 0:
                return 0
            if entry[0] == 0:
                entry[1] = now + expiry
            entry[0] += grant
            self._counts[key] = entry
            return grant

    def release(self, key: str, amount: int) -> None:
        """Take back up to ``amount`` from a live window (an expired one is a new day)."""
        with self._lock:
            entry = self._live(key, self._clock())
            if entry[0] > 0:
                entry[0] = max(entry[0] - amount, 0)
                self._counts[key] = entry

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()
            self._counts.clear()

    def _live(self, key: str, now: float) -> list[float]:
        entry = self._counts.get(key)
        if entry is None or entry[1] <= now:
            self._counts.pop(key, None)
            return [0, now]
        return entry

    def _sweep(self, now: float) -> None:
        """Forget expired keys (bounded memory for users who went away)."""
        if now - self._swept < SWEEP_EVERY_S:
            return
        self._swept = now
        for key, (expiry, times) in list(self._hits.items()):
            if not times or times[-1] <= now - expiry:
                del self._hits[key]
        for key, entry in list(self._counts.items()):
            if entry[1] <= now:
                del self._counts[key]
