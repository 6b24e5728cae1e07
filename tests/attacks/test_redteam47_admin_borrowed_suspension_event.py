"""Red team 47, as an admin (root) with a database insider: a borrowed trail event.

Rule (red team 46, ``gateway.stewardship.users.suspensions``): who imposed a suspension,
and whether one was lifted, is the trail's word — the subject's newest
``user.suspended`` and ``user.unsuspended``, each believed only as a gateway wrote it at
its seq (``audit.genuine``) — not the row's ``suspended_by``, which its seal does not
cover.

Attack: the trail is searched by its index columns (``type``, ``resource``) and the
answer is the hashed body found there; the body was checked to be a gateway's, never
to be what the columns said. root suspends dora. An insider of the audit database sets
the two index columns of a later, genuine event of someone else's (alice's query:
body, hash and MAC untouched, so it is still "a gateway's at its seq") to
``user.suspended`` / ``user:dora``, and rewrites ``users.suspended_by``: root's
``unsuspend`` read alice as the suspender and lifted his own suspension (200, the
record naming alice). The same borrowing as ``user.unsuspended``, with ``status =
'active'`` written into the row, made the trail say "lifted", and root's restoring save
was let through. A forged newest event (one not a gateway's) fell back to the row's
``suspended_by`` too.

Expected: 403 both ways: an event whose body does not say what its columns say is no
word on a suspension (and a suspension whose imposer the trail cannot tell is not
lifted on the row's word). On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attacks.test_insider_audit import _insider
from tests.attacks.test_redteam46_admin_restore_lifts_suspension import (
    DIBAO,
    QUERY,
    _post,
    _restore,
    _unsuspended_on_record,
)
from tests.attacks.test_redteam46_admin_restore_lifts_suspension import gw as gw
from tests.gateway.demo_app import DemoGateway


@pytest.fixture
def held(gw: DemoGateway) -> Iterator[DemoGateway]:
    """The deployment with the monitor's sweep held (as on a trail long enough that its
    window is elsewhere), and the borrowed event's columns put back afterwards."""
    monitor = gw.services.audit.monitor
    monitor.stop()
    try:
        yield gw
    finally:
        _insider(gw, "UPDATE audit_events SET type = 'query.started', "
                     f"resource = 'dataset:{DIBAO}' "
                     "WHERE actor_sub = 'alice' AND resource = 'user:dora'")  # fmt: skip
        monitor._stop.clear()
        monitor.start()


def _borrow(gw: DemoGateway, as_type: str) -> None:
    """alice's newest ``query.started`` indexed as ``as_type`` about dora."""
    assert gw.query("alice", DIBAO, QUERY).status_code == 200
    _insider(gw, f"UPDATE audit_events SET type = '{as_type}', resource = 'user:dora' "
                 "WHERE seq = (SELECT max(seq) FROM audit_events WHERE actor_sub = 'alice' "
                 "AND type = 'query.started')")  # fmt: skip


def test_a_borrowed_suspension_event_does_not_name_another_suspender(held: DemoGateway) -> None:
    gw = held
    assert _post(gw, "root", "/users/dora/suspend").status_code == 200
    _borrow(gw, "user.suspended")
    gw.sql("UPDATE users SET suspended_by = 'sam' WHERE subject = 'dora'")
    lifted_before = _unsuspended_on_record(gw)
    mine = _post(gw, "root", "/users/dora/unsuspend")
    assert mine.status_code == 403, mine.text
    assert gw.query("dora", DIBAO, QUERY).status_code == 403
    assert _unsuspended_on_record(gw) == lifted_before


def test_a_borrowed_lifting_event_does_not_let_a_save_restore(held: DemoGateway) -> None:
    gw = held
    listed = gw.listed_user("dora")
    assert _post(gw, "root", "/users/dora/suspend").status_code == 200
    _borrow(gw, "user.unsuspended")
    gw.sql("UPDATE users SET status = 'active' WHERE subject = 'dora'")
    saved = _restore(gw, "root", listed, "active")
    assert saved.status_code == 403, saved.text
    assert gw.query("dora", DIBAO, QUERY).status_code in (401, 403)
