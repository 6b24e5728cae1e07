"""The one deadline thread (``catalog.deadline_watch``) that SQL fetches, HTTP exchanges,
alert pushes and witness calls share: an expiry runs when due and never after its
disarm, a failing expiry does not stop the others, and no thread is started per
deadline."""

from __future__ import annotations

import threading
import time

from catalog.deadline_watch import DeadlineWatch


def test_a_due_deadline_runs_once_and_says_so() -> None:
    watch, ran = DeadlineWatch(name="t-due"), threading.Event()
    armed = watch.arm(0.05, ran.set)
    assert ran.wait(5)
    watch.disarm(armed)
    assert armed.fired and watch.pending() == 0


def test_a_disarmed_deadline_never_runs() -> None:
    watch, ran = DeadlineWatch(name="t-disarmed"), threading.Event()
    watch.disarm(watch.arm(0.05, ran.set))
    later = threading.Event()
    watch.arm(0.2, later.set)  # a later one still runs: the watch kept going
    assert later.wait(5) and not ran.is_set()


def test_deadlines_run_in_the_order_they_come_due_whatever_the_order_armed() -> None:
    watch, order, done = DeadlineWatch(name="t-order"), [], threading.Event()
    watch.arm(0.3, lambda: (order.append("late"), done.set()))
    watch.arm(0.1, lambda: order.append("early"))
    assert done.wait(5)
    assert order == ["early", "late"]


def test_an_expiry_that_raises_does_not_stop_the_watch() -> None:
    watch, ran = DeadlineWatch(name="t-raise"), threading.Event()

    def broken() -> None:
        raise RuntimeError("socket already gone")

    watch.arm(0.01, broken)
    watch.arm(0.1, ran.set)
    assert ran.wait(5)


def test_many_deadlines_share_one_thread() -> None:
    watch = DeadlineWatch(name="t-one-thread")
    armed = [watch.arm(60, lambda: None) for _ in range(200)]
    assert sum(t.name == "t-one-thread" for t in threading.enumerate()) == 1
    assert watch.pending() == 200
    for a in armed:
        watch.disarm(a)
    assert watch.pending() == 0 and not any(a.fired for a in armed)


def test_disarm_waits_for_an_expiry_under_way() -> None:
    """A caller that disarmed may hand its connection back: an expiry that started
    before has finished by then, and none starts after."""
    watch, entered, finished = DeadlineWatch(name="t-wait"), threading.Event(), []

    def slow() -> None:
        entered.set()
        time.sleep(0.2)
        finished.append(True)

    armed = watch.arm(0.01, slow)
    assert entered.wait(5)
    watch.disarm(armed)
    assert finished == [True] and armed.fired
