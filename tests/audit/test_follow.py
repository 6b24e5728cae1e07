"""A follower of the verified chain (``audit.follow``), SQLite and PostgreSQL.

Red team 40: a check that found its events by the trail's index columns was blinded by
an insider who edited them. A follower reads no column: every body whose link, hash
and MAC verify, in seq order, once; a chain that does not verify above what it read
refuses every read until it does; what it read stays read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Self

import orjson
import pytest

from audit.canonical import canonical_json
from audit.follow import Followers, TrailBroken, VerifiedFollower
from audit.log import AuditLog
from tests.audit.helpers import event, fill, open_log, tamper


class Seen:
    """A consumer keeping each event's seq and its body's actor; ``added`` counts the
    events fed to this instance (not those it was loaded with)."""

    SNAPSHOT_VERSION: ClassVar[int] = 1

    def __init__(self) -> None:
        self.events: list[tuple[int, str]] = []
        self.added = 0

    def add(self, event: dict[str, Any]) -> None:
        self.events.append((int(event["seq"]), str(event["actor"]["sub"])))
        self.added += 1

    def dump(self) -> list[list[Any]]:
        return [[seq, sub] for seq, sub in self.events]

    @classmethod
    def loaded(cls, facts: Any) -> Self:
        made = cls()
        made.events = [(int(seq), str(sub)) for seq, sub in facts]
        return made


@pytest.fixture
def log(db_url: str, sluice_home: Path) -> Iterator[AuditLog]:
    """30 events; no monitor (it would seal on what the tests do)."""
    opened = open_log(db_url, sluice_home, background=False)
    fill(opened, 30)
    try:
        yield opened
    finally:
        opened.close()


def _seqs(follower: VerifiedFollower[Seen]) -> list[int]:
    with follower.caught_up() as seen:
        return [seq for seq, _ in seen.events]


def _follower(log: AuditLog, accepted: tuple[int, ...] = ()) -> VerifiedFollower[Seen]:
    return VerifiedFollower(log.store, Seen(), lambda seq: seq in accepted, chunk=7)


def test_every_event_is_fed_once_in_order_as_the_head_moves(log: AuditLog) -> None:
    follower = _follower(log)
    assert _seqs(follower) == list(range(1, 31))
    assert _seqs(follower) == list(range(1, 31))  # nothing new: nothing fed twice
    log.append(event(99))
    assert _seqs(follower) == list(range(1, 32))
    assert follower.seq == 31


def test_columns_edited_before_the_first_read_change_nothing(db_url: str, log: AuditLog) -> None:
    tamper(db_url, "UPDATE audit_events SET actor_sub = 'nobody', type = 'x', "
                   "resource = 'dataset:x' WHERE seq >= 10")  # fmt: skip
    with _follower(log).caught_up() as seen:
        assert seen.events == [(n + 1, f"user{n % 3}") for n in range(30)]


def test_a_row_deleted_above_what_was_read_refuses_every_read(db_url: str, log: AuditLog) -> None:
    follower = _follower(log)
    assert len(_seqs(follower)) == 30
    fill(log, 10)
    tamper(db_url, "DELETE FROM audit_events WHERE seq = 35")
    for _ in range(2):  # the same refusal again: the walk resumes where it verified
        with pytest.raises(TrailBroken, match="seq 35 \\(gap"):
            _seqs(follower)
    assert follower.seq == 34
    assert [seq for seq, _ in follower.consumer.events] == list(range(1, 35))


def test_a_row_deleted_below_what_was_read_is_still_known(db_url: str, log: AuditLog) -> None:
    follower = _follower(log)
    assert len(_seqs(follower)) == 30
    tamper(db_url, "DELETE FROM audit_events WHERE seq = 12")
    assert 12 in _seqs(follower)


def test_a_fresh_follower_refuses_a_trail_with_a_row_missing(db_url: str, log: AuditLog) -> None:
    tamper(db_url, "DELETE FROM audit_events WHERE seq = 3")
    with pytest.raises(TrailBroken, match="seq 3 \\(gap"):
        _seqs(_follower(log))


def test_an_edited_body_refuses(db_url: str, log: AuditLog) -> None:
    tamper(db_url, "UPDATE audit_events SET body = replace(body, 'user1', 'userX') "
                   "WHERE seq = 14")  # fmt: skip
    with pytest.raises(TrailBroken, match="seq 14 \\(hash mismatch"):
        _seqs(_follower(log))


def test_a_head_rewritten_with_its_hash_recomputed_fails_its_mac(
    db_url: str, log: AuditLog
) -> None:
    """The chain alone is public arithmetic: the newest row, rewritten with a hash that
    links, is caught by the gateways' MAC only."""
    with log.store.reading() as conn:
        rows = log.store.fetch_all(conn, "SELECT prev_hash, body FROM audit_events "
                                         "WHERE seq = 30")  # fmt: skip
    prev, body = rows[0]
    forged = orjson.loads(body)
    forged["actor"]["sub"] = "userX"
    data = canonical_json(forged)
    new = hashlib.sha256(bytes.fromhex(prev) + data).hexdigest()
    text = data.decode().replace("'", "''")
    tamper(db_url, f"UPDATE audit_events SET body = '{text}', hash = '{new}' WHERE seq = 30")
    with pytest.raises(TrailBroken, match="seq 30 \\(mac mismatch"):
        _seqs(_follower(log))


def test_a_failure_an_unseal_accepted_is_passed_over(db_url: str, log: AuditLog) -> None:
    """As the monitor's walk passes over it: the events after it are read (each genuine
    at its seq), the accepted row gives nothing; any other failure still refuses."""
    edit = "UPDATE audit_events SET body = replace(body, 'CASE-', 'CASX-') WHERE seq = 16"
    tamper(db_url, "DELETE FROM audit_events WHERE seq = 8", edit)
    follower = _follower(log, accepted=(8, 16))
    assert _seqs(follower) == [n for n in range(1, 31) if n not in (8, 16)]
    tamper(db_url, "DELETE FROM audit_events WHERE seq = 24")
    with pytest.raises(TrailBroken, match="seq 24"):
        _seqs(_follower(log, accepted=(8, 16)))


@pytest.mark.parametrize(
    "statement",
    ["DELETE FROM audit_events WHERE seq >= 29", "UPDATE audit_events SET hash = prev_hash "
     "WHERE seq = 30"],
    ids=["tail cut", "head rewritten"],
)  # fmt: skip
def test_the_chain_changed_under_what_was_read_refuses(
    db_url: str, log: AuditLog, statement: str
) -> None:
    """New events at seqs already passed would never be read: refused, not skipped."""
    follower = _follower(log)
    assert len(_seqs(follower)) == 30
    tamper(db_url, statement)
    with pytest.raises(TrailBroken, match="no longer holds event 30"):
        _seqs(follower)


def test_followers_start_again_after_an_unseal(log: AuditLog) -> None:
    epoch = [1]
    followers = Followers(log.store, lambda seq: False, lambda: epoch[0])
    first = followers.of(Seen)
    assert followers.of(Seen) is first and len(_seqs(first)) == 30
    epoch[0] = 2  # an officer accepted a loss: the writer may go on from an earlier head
    again = followers.of(Seen)
    assert again is not first and again.seq == 0 and len(_seqs(again)) == 30
