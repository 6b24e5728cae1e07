"""The in-process rate window and row counters (``gateway.enforcement.memory_counters``):
the ``limits`` semantics they stand in for, on a clock the test moves, and no thread."""

from __future__ import annotations

import threading

from gateway.enforcement.limits import Limiter
from gateway.enforcement.memory_counters import SWEEP_EVERY_S, MemoryCounters


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_moving_window_allows_amount_per_expiry() -> None:
    clock = Clock()
    counters = MemoryCounters(clock)
    assert [counters.hit("k", 3, 60) for _ in range(4)] == [True, True, True, False]
    clock.now += 30
    assert counters.hit("k", 3, 60) is False  # the first three are still in the window
    clock.now += 30.001
    assert counters.hit("k", 3, 60) is True  # they left it; one slot again
    assert counters.hit("other", 3, 60) is True  # per key


def test_fixed_window_reserve_release_and_expiry() -> None:
    clock = Clock()
    counters = MemoryCounters(clock)
    assert counters.reserve("rows", 100, 70, 86_400) == 70
    assert counters.reserve("rows", 100, 70, 86_400) == 30  # what is left, no more
    assert counters.reserve("rows", 100, 1, 86_400) == 0
    counters.release("rows", 50)
    assert counters.count("rows") == 50
    clock.now += 86_400  # a new day: the window expired
    assert counters.count("rows") == 0
    counters.release("rows", 10)  # nothing of the new day was reserved
    assert counters.count("rows") == 0
    assert counters.reserve("rows", 100, 100, 86_400) == 100


def test_sweep_forgets_users_who_went_away() -> None:
    clock = Clock()
    counters = MemoryCounters(clock)
    counters.hit("gone", 5, 60)
    counters.reserve("gone-rows", 10, 5, 60)
    clock.now += SWEEP_EVERY_S + 61
    counters.hit("here", 5, 60)  # the sweep runs on a use
    assert set(counters._hits) == {"here"} and counters._counts == {}


def test_memory_limiter_starts_no_thread() -> None:
    """``limits``' memory storage started a Timer thread on the request path every few
    milliseconds under load; the limiter in memory must start none."""
    limiter = Limiter(rate="1000/minute", daily_rows=10_000, storage_uri="memory://")
    before = threading.active_count()
    started: list[threading.Thread] = []
    original = threading.Thread.start

    def spy(self: threading.Thread) -> None:
        started.append(self)
        original(self)

    threading.Thread.start = spy  # type: ignore[method-assign]
    try:
        for _ in range(200):
            limiter.hit_request("alice")
            limiter.remaining_rows("alice")
            limiter.release_rows("alice", limiter.reserve_rows("alice", 20) - 5)
    finally:
        threading.Thread.start = original  # type: ignore[method-assign]
    assert started == [] and threading.active_count() == before
    assert limiter.remaining_rows("alice") == 10_000 - 200 * 5
