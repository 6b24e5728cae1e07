"""Source connection slots: bounded per user and per source, refused at once, given
back exactly once (issue 11, class 7)."""

from __future__ import annotations

import threading

import pytest

from gateway.enforcement.query.slots import SourceBusy, StreamSlots, TooManyStreams


def test_a_user_over_their_share_is_429_and_others_still_get_slots() -> None:
    slots = StreamSlots(per_source=3, per_user=2, wait_s=0)
    held = [slots.acquire("civil-db", "dora") for _ in range(2)]
    with pytest.raises(TooManyStreams) as refused:
        slots.acquire("civil-db", "dora")
    assert refused.value.http_status == 429 and "civil-db" in refused.value.message
    other = slots.acquire("civil-db", "arthur")  # never blocked by dora's streams
    assert slots.acquire("finance-db", "dora")  # another source: another share
    with pytest.raises(SourceBusy) as busy:
        slots.acquire("civil-db", "alice")
    assert busy.value.http_status == 503 and busy.value.code == "source_busy"
    for slot in [*held, other]:
        slot.release()
        slot.release()  # idempotent: every way a read ends releases it
    assert slots.in_use("civil-db") == 0
    assert slots.acquire("civil-db", "dora")


def test_a_busy_source_queues_a_query_until_a_slot_is_given_back() -> None:
    """A burst over the source's bound waits for the next free slot instead of failing;
    only a source busy for the whole wait answers 503."""
    slots = StreamSlots(per_source=1, per_user=1, wait_s=30)
    first = slots.acquire("civil-db", "dora")
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(slots.acquire("civil-db", "arthur")))
    waiter.start()
    first.release()
    waiter.join(30)
    assert got and slots.in_use("civil-db") == 1
    impatient = StreamSlots(per_source=1, per_user=1, wait_s=0.01)
    impatient.acquire("civil-db", "dora")
    with pytest.raises(SourceBusy):
        impatient.acquire("civil-db", "arthur")
