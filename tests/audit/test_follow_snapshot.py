"""A follower resumed from its snapshot (``audit.follow_snapshot``), SQLite and PostgreSQL.

A new process no longer walks the whole trail for its first read: it starts from the
watermark and facts a follower wrote, MAC'd. The table is the runtime role's to
rewrite, so an insider may delete, forge or replay its row; each only costs the walk
from further back, and every event is still read: a row whose MAC, epoch or watermark
does not hold is ignored (the walk starts at seq 1), and an older row the gateway wrote
makes the walk re-read every event after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from audit.follow import TrailBroken, VerifiedFollower
from audit.follow_snapshot import Snapshots, TrailCut
from audit.log import AuditLog
from tests.audit import test_follow
from tests.audit.helpers import fill, tamper
from tests.audit.test_follow import Seen

log = test_follow.log  # the fixture: 30 events, no monitor


@pytest.fixture
def streamed(log: AuditLog, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The seqs of every row the followers read from the trail (a spy on the store)."""
    seen: list[int] = []
    stream = log.store.stream

    def counting(*args: Any, **kwargs: Any) -> Iterator[list[Any]]:
        for chunk in stream(*args, **kwargs):
            seen.extend(int(row[0]) for row in chunk)
            yield chunk

    monkeypatch.setattr(log.store, "stream", counting)
    return seen


def _follower(log: AuditLog, epoch: int = 1, every: int = 10) -> VerifiedFollower[Seen]:
    snapshots = Snapshots(log.store, lambda: epoch)
    return VerifiedFollower(log.store, Seen(), lambda seq: False, chunk=7,
                            snapshots=snapshots, epoch=epoch, snapshot_every=every)  # fmt: skip


def _read(follower: VerifiedFollower[Seen]) -> list[int]:
    with follower.caught_up() as seen:
        return [seq for seq, _ in seen.events]


def _row(log: AuditLog) -> tuple[str, str] | None:
    with log.store.reading() as conn:
        rows = log.store.fetch_all(conn, "SELECT body, mac FROM audit_follow_snapshots")
    return None if not rows else (str(rows[0][0]), str(rows[0][1]))


def test_a_new_follower_resumes_from_the_snapshot(log: AuditLog, streamed: list[int]) -> None:
    assert _read(_follower(log)) == list(range(1, 31))  # 30 read: written after the lock
    assert _row(log) is not None
    fill(log, 5)
    streamed.clear()
    again = _follower(log)
    assert _read(again) == list(range(1, 36))
    assert streamed == list(range(31, 36)) and again.consumer.added == 5  # none below 31


def test_a_snapshot_is_written_only_after_enough_events(log: AuditLog) -> None:
    follower = _follower(log, every=50)
    _read(follower)
    assert _row(log) is None
    fill(log, 20)
    _read(follower)
    assert _row(log) is not None  # 50 read since none was written


def test_no_mac_key_no_snapshot(log: AuditLog) -> None:
    log.store.event_mac = None
    follower = _follower(log)
    _read(follower)
    follower.persist()
    assert _row(log) is None


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_follow_snapshots SET mac = replace(mac, substr(mac, 1, 1), 'x')",
     "UPDATE audit_follow_snapshots SET body = replace(body, '[12,\"user2\"],', '')",
     "UPDATE audit_follow_snapshots SET mac = 'é' || substr(mac, 2)",
     "UPDATE audit_events SET actor_sub = 'nobody'"],
    ids=["mac", "facts edited", "mac not ascii", "columns only"],
)  # fmt: skip
def test_a_forged_snapshot_is_ignored_and_every_event_read(
    db_url: str, log: AuditLog, statement: str
) -> None:
    _follower(log).persist()
    before = _row(log)
    tamper(db_url, statement)
    assert (_row(log) != before) == statement.startswith("UPDATE audit_follow")
    again = _follower(log)
    seqs = _read(again)
    assert seqs == list(range(1, 31))
    if statement.startswith("UPDATE audit_follow"):
        assert again.consumer.added == 30  # the walk from seq 1: event 12 found again
    else:
        assert again.consumer.added == 0  # the columns are nothing to a follower


def test_a_snapshot_of_another_epoch_is_ignored(log: AuditLog) -> None:
    _follower(log, epoch=1).persist()
    again = _follower(log, epoch=2)  # an unseal since: the writer may have gone back
    assert _read(again) == list(range(1, 31)) and again.consumer.added == 30


def test_a_snapshot_whose_watermark_row_changed_refuses(db_url: str, log: AuditLog) -> None:
    _follower(log).persist()
    tamper(db_url, "UPDATE audit_events SET hash = prev_hash WHERE seq = 30")
    again = _follower(log)
    for _ in range(2):  # and again: the evidence is not forgotten after the first refusal
        with pytest.raises(TrailCut, match="no longer holds event 30"):
            _read(again)


def test_a_snapshot_whose_watermark_row_is_gone_refuses(db_url: str, log: AuditLog) -> None:
    _follower(log).persist()
    tamper(db_url, "DELETE FROM audit_events WHERE seq IN (12, 30)")
    with pytest.raises(TrailCut, match="no longer holds event 30"):
        _read(_follower(log))


def test_a_tail_cut_below_the_snapshot_refuses(db_url: str, log: AuditLog) -> None:
    """The tail erased down to seq 25 (the watermark at 30): the rest verifies, so a
    walk from seq 1 would see a shorter trail and nothing wrong; the snapshot under the
    gateways' MAC is the evidence of the cut."""
    _follower(log).persist()
    tamper(db_url, "DELETE FROM audit_events WHERE seq > 25")
    with pytest.raises(TrailCut, match="no longer holds event 30"):
        _read(_follower(log))
    assert _read(_follower(log, epoch=2)) == list(range(1, 26))  # after an unseal: read


def test_an_older_snapshot_replayed_still_reads_every_event_after_it(
    db_url: str, log: AuditLog, streamed: list[int]
) -> None:
    first = _follower(log)
    first.persist()
    older = _row(log)
    assert older is not None
    fill(log, 10)
    first.persist()  # the newest snapshot: watermark 40
    body, mac = (text.replace("'", "''") for text in older)
    tamper(db_url, f"UPDATE audit_follow_snapshots SET body = '{body}', mac = '{mac}'",
           "UPDATE audit_events SET actor_sub = 'nobody' WHERE seq > 30")  # fmt: skip
    streamed.clear()
    again = _follower(log)
    assert _read(again) == list(range(1, 41))
    assert streamed == list(range(31, 41)) and again.consumer.added == 10


def test_an_older_snapshot_replayed_over_a_deleted_row_refuses(db_url: str, log: AuditLog) -> None:
    """A read event deleted below the newest snapshot's watermark, the older snapshot put
    back so that the fresh process would not know it: the walk from the older watermark
    meets the gap."""
    first = _follower(log)
    first.persist()
    older = _row(log)
    assert older is not None
    fill(log, 10)
    first.persist()
    body, mac = (text.replace("'", "''") for text in older)
    tamper(db_url, f"UPDATE audit_follow_snapshots SET body = '{body}', mac = '{mac}'",
           "DELETE FROM audit_events WHERE seq = 35")  # fmt: skip
    with pytest.raises(TrailBroken, match="seq 35 \\(gap"):
        _read(_follower(log))
