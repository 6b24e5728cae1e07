"""Source connection slots: bounded per user and per source, refused at once, given
back exactly once (issue 11, class 7)."""

from __future__ import annotations

import pytest

from gateway.query.slots import SourceBusy, StreamSlots, TooManyStreams


def test_a_user_over_their_share_is_429_and_others_still_get_slots() -> None:
    slots = StreamSlots(per_source=3, per_user=2)
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
