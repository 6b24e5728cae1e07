"""The approval index warmed at start (``Settings.warm_approval_index``), off the request
path: the first approval after a restart finds it caught up instead of walking the trail
past the console's timeout. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from audit.follow import TrailBroken
from gateway.stewardship.grants.trail_facts import ApprovalFacts, warm_in_background
from tests.audit.helpers import fill, open_log, tamper


def test_the_index_is_caught_up_in_the_background(db_url: str, sluice_home: Path) -> None:
    log = open_log(db_url, sluice_home, background=False)
    try:
        fill(log, 30)
        thread = warm_in_background(log)
        assert thread is not None
        thread.join(30)
        assert log.followers.of(ApprovalFacts).seq == 30
    finally:
        log.close()


def test_a_trail_that_does_not_verify_is_left_to_the_approval(
    db_url: str, sluice_home: Path
) -> None:
    """Logged, not raised in the thread: the approval itself refuses (503)."""
    log = open_log(db_url, sluice_home, background=False)
    try:
        fill(log, 30)
        tamper(db_url, "DELETE FROM audit_events WHERE seq = 7")
        thread = warm_in_background(log)
        assert thread is not None
        thread.join(30)
        assert not thread.is_alive()
        follower = log.followers.of(ApprovalFacts)
        assert follower.seq == 6
        try:
            with follower.caught_up():
                raise AssertionError("read a trail with a gap")
        except TrailBroken as exc:
            assert "seq 7" in str(exc)
    finally:
        log.close()
