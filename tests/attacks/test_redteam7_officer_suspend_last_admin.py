"""Red team 7, as a security officer: suspend every admin (and an admin suspends every
officer), so nobody is left to lift a suspension or approve an unseal.

Rule: lifting a suspension takes an admin who did not impose it; unsealing the trail
takes an officer and an admin (two people). Both need someone *active* in each role.

Attack (sixth pass, left open): sam, the only officer, suspends root, the only admin —
or, with two admins, suspends both, one after the other or both at once. Nobody can
then lift anything through the API; only ``sluice users`` on a host could. An admin
could do the same to the last officer.

Expected: suspending the last active admin, or the last active security officer, is
refused (409, the reason said, on record as ``request.refused``); the account stays
active. Two suspensions at the same moment of the last two admins: never both; since
row bindings (``catalog.row_bindings``) one or neither passes — each puts the admin's
suspended state on the trail before its commit, and the other's check at the flush
reads that admin's row as no longer current, so both may be refused (asked again, one
passes) — and an account whose suspension was refused is served as before (its loaded
state is bound again).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from audit.search import EventFilter, list_events
from catalog.models import User
from tests.gateway.demo_app import DemoGateway

WHY = {"reason": "red team 7: incident IR-9"}


def _post(gw: DemoGateway, who: str, path: str) -> Any:
    return gw.client.post(f"/api/v1{path}", json=WHY, headers=gw.headers(who))


def _refusals(gw: DemoGateway, path: str) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="request.refused"), limit=200,
                       order="desc")  # fmt: skip
    return [e for e in page["items"] if e["details"].get("path") == path]


def _status(gw: DemoGateway, subject: str) -> str:
    with gw.services.sessions() as session:
        user = session.get(User, subject)
        assert user is not None, subject
        return str(user.status)


@pytest.fixture(scope="module")
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    """The deployment with a second admin (root2) and a second officer (sam2)."""
    root = deployment.headers("root")
    for subject, role in (("root2", "admin"), ("sam2", "security_officer")):
        resp = deployment.client.put(f"/api/v1/admin/users/{subject}",
                                     json={"display_name": subject, "clearance": "L4"},
                                     headers=root)  # fmt: skip
        assert resp.status_code == 200, resp.text
        resp = deployment.client.post(f"/api/v1/admin/users/{subject}/roles",
                                      json={"role": role, "domain": "*"}, headers=root)  # fmt: skip
        assert resp.status_code == 200, resp.text
    return deployment


def _reset(gw: DemoGateway, *subjects: str) -> None:
    """Every account of the test active again, as ``sluice users`` on a host would: when
    the attack succeeds nobody is left to lift a suspension through the API (the point
    of the attack)."""
    for subject in subjects:
        gw.edit_user(subject, status="active", suspended_by=None, suspended_reason=None,
                     suspended_at=None)  # fmt: skip


def test_an_officer_cannot_suspend_the_last_active_admin(gw: DemoGateway) -> None:
    assert _post(gw, "sam", "/users/root2/suspend").status_code == 200
    try:
        refused = _post(gw, "sam", "/users/root/suspend")
        assert refused.status_code == 409, refused.text
        assert "last active admin" in refused.json()["message"]
        assert _status(gw, "root") == "active"
        assert gw.client.get("/api/v1/me", headers=gw.headers("root")).status_code == 200
        on_record = _refusals(gw, "/api/v1/users/root/suspend")
        assert on_record and on_record[0]["actor"]["sub"] == "sam"
        assert "last active admin" in on_record[0]["details"]["message"]
        lifted = _post(gw, "root", "/users/root2/unsuspend")  # root is still there to
        assert lifted.status_code == 200, lifted.text  # lift what sam imposed
    finally:
        _reset(gw, "root", "root2")


def test_an_admin_cannot_suspend_the_last_active_officer(gw: DemoGateway) -> None:
    assert _post(gw, "root", "/users/sam2/suspend").status_code == 200
    try:
        refused = _post(gw, "root", "/users/sam/suspend")
        assert refused.status_code == 409, refused.text
        assert "last active security officer" in refused.json()["message"]
        assert _status(gw, "sam") == "active"
    finally:
        _reset(gw, "sam", "sam2")


def test_an_officer_still_cannot_suspend_themselves(gw: DemoGateway) -> None:
    refused = _post(gw, "sam", "/users/sam/suspend")
    assert refused.status_code == 403, refused.text
    assert _status(gw, "sam") == "active"


def test_the_last_two_admins_suspended_at_once_leave_one(gw: DemoGateway) -> None:
    """Two requests interleave as far as each database lets them: on SQLite both pass
    their checks and append their events before either commits (a barrier in the
    trail's append; a flushed change holds SQLite's one write lock, which the trail
    needs too); on PostgreSQL both flush their change before either commits (a barrier
    after the flush), unless the first one's row locks hold the second back."""
    both_there = threading.Barrier(2, timeout=3)

    def meet() -> None:
        # the second request may never get there in time (it waits on the first one's
        # lock): the barrier breaks and the first goes on
        with contextlib.suppress(threading.BrokenBarrierError):
            both_there.wait()

    trail = gw.services.audit
    original = trail.append

    def append(event_: Any) -> Any:
        receipt = original(event_)
        if event_.get("type") == "user.suspended":
            meet()
        return receipt

    def flushed(session: Session, _context: Any) -> None:
        if any(isinstance(o, User) and o.status == "suspended" for o in session.dirty):
            meet()

    answers: dict[str, Any] = {}

    def suspend(subject: str) -> None:
        answers[subject] = _post(gw, "sam", f"/users/{subject}/suspend")

    on_postgres = gw.services.engine.dialect.name == "postgresql"
    if on_postgres:
        event.listen(Session, "after_flush", flushed)
    else:
        trail.append = append  # type: ignore[method-assign]
    try:
        threads = [threading.Thread(target=suspend, args=(s,)) for s in ("root", "root2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        if on_postgres:
            event.remove(Session, "after_flush", flushed)
        else:
            del trail.append  # the instance attribute: the class's method again
    try:
        codes = sorted(a.status_code for a in answers.values())
        assert codes in ([200, 409], [409, 409]), {
            s: (a.status_code, a.text) for s, a in answers.items()}  # fmt: skip
        statuses = {s: _status(gw, s) for s in ("root", "root2")}
        assert sorted(statuses.values()) == (
            ["active", "suspended"] if codes == [200, 409] else ["active", "active"])  # fmt: skip
        for subject, status in statuses.items():  # a refused suspension leaves it served
            if status == "active":
                resp = gw.client.get("/api/v1/admin/users", headers=gw.headers(subject))
                assert resp.status_code == 200, resp.text
    finally:
        _reset(gw, "root", "root2")
