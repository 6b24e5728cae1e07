"""Red team 8, as an admin (and an admin with an officer): take the last active security
officer or admin out by another door than ``suspend``.

Rule (seventh pass): one active admin and one active security officer always remain —
lifting a suspension takes an admin who did not impose it, unsealing the trail an
officer and an admin. ``emergency.suspend`` refuses to take out the last of either.

Attack: the same effect by the user form. ``PUT /api/v1/admin/users/sam`` with
``"status": "disabled"`` (refused from the next request on, like a suspension), or
``DELETE …/roles/security_officer/*``, took out sam, the only officer (200); and a
suspension racing a disable of the other admin — sam suspends root while root disables
root2 — passed both: the suspension's check saw root2 active, and the disable had no
check at all. Nobody was left active with the admin role; neither the suspension nor
the disable could then be undone through the API.

Expected: disabling, or taking the role from, the last active holder of either role is
refused (409, on record as ``request.refused``) whatever the path; of a suspension and a
disable racing for the last two admins, one passes, never both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from audit.search import EventFilter, list_events
from catalog.models import User
from tests.gateway.demo_app import DemoGateway


def _user_form(gw: DemoGateway, subject: str, **changes: Any) -> dict[str, Any]:
    with gw.services.sessions() as session:
        user = session.get(User, subject)
        assert user is not None, subject
        return {"display_name": user.display_name, "department": user.department,
                "clearance": user.clearance, "jurisdiction": list(user.jurisdiction or []),
                **changes}  # fmt: skip


def _status(gw: DemoGateway, subject: str) -> str:
    with gw.services.sessions() as session:
        user = session.get(User, subject)
        assert user is not None, subject
        return str(user.status)


def _refusals(gw: DemoGateway, path: str) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="request.refused"), limit=200,
                       order="desc")  # fmt: skip
    return [e for e in page["items"] if e["details"].get("path") == path]


def _reset(gw: DemoGateway) -> None:
    """Everyone active again, as ``sluice users`` on a host would: when the attack
    succeeds nobody is left to do it through the API."""
    for subject in ("root", "root2", "sam"):
        gw.edit_user(subject, status="active", suspended_by=None, suspended_reason=None,
                     suspended_at=None)  # fmt: skip


@pytest.fixture(scope="module")
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    """The deployment with a second admin, root2 (sam stays the only officer)."""
    root = deployment.headers("root")
    resp = deployment.client.put("/api/v1/admin/users/root2",
                                 json={"display_name": "root2", "clearance": "L1"},
                                 headers=root)  # fmt: skip
    assert resp.status_code == 200, resp.text
    resp = deployment.client.post("/api/v1/admin/users/root2/roles",
                                  json={"role": "admin", "domain": "*"}, headers=root)  # fmt: skip
    assert resp.status_code == 200, resp.text
    yield deployment


def test_an_admin_cannot_disable_the_last_active_officer(gw: DemoGateway) -> None:
    try:
        resp = gw.client.put("/api/v1/admin/users/sam", json=_user_form(gw, "sam",
                             status="disabled"), headers=gw.headers("root"))  # fmt: skip
        assert resp.status_code == 409, resp.text
        assert "last active security officer" in resp.json()["message"]
        assert _status(gw, "sam") == "active"
        on_record = _refusals(gw, "/api/v1/admin/users/sam")
        assert on_record and on_record[0]["actor"]["sub"] == "root"
        # another attribute of the same user still changes
        resp = gw.client.put("/api/v1/admin/users/sam", json=_user_form(gw, "sam"),
                             headers=gw.headers("root"))  # fmt: skip
        assert resp.status_code == 200, resp.text
    finally:
        _reset(gw)


def test_an_admin_cannot_take_the_last_officer_role(gw: DemoGateway) -> None:
    try:
        resp = gw.client.delete("/api/v1/admin/users/sam/roles/security_officer/*",
                                headers=gw.headers("root"))  # fmt: skip
        assert resp.status_code == 409, resp.text
        assert "last active security officer" in resp.json()["message"]
        assert gw.client.get("/api/v1/audit/alerts", headers=gw.headers("sam")).status_code == 200
    finally:
        with gw.services.sessions():
            if ("security_officer", "*") not in gw.services.authorizer.roles_of("sam"):
                gw.services.authorizer.assign(subject="sam", role="security_officer", domain="*")


def test_a_disable_racing_a_suspension_leaves_an_admin(gw: DemoGateway) -> None:
    """root disables root2; while that request is past its checks and on record but not
    committed, sam suspends root (root2 still looks active to that check); then the
    disable commits."""
    trail = gw.services.audit
    original = trail.append
    waiting, go = threading.Event(), threading.Event()

    def append(event_: Any) -> Any:
        receipt = original(event_)
        if event_.get("type") == "user.updated" and event_["details"].get("status"):
            waiting.set()
            go.wait(10)
        return receipt

    answers: dict[str, Any] = {}

    def disable() -> None:
        answers["disable"] = gw.client.put("/api/v1/admin/users/root2",
                                           json=_user_form(gw, "root2", status="disabled"),
                                           headers=gw.headers("root"))  # fmt: skip

    root_headers = gw.headers("root")
    sam_headers = gw.headers("sam")
    trail.append = append  # type: ignore[method-assign]
    try:
        thread = threading.Thread(target=disable)
        thread.start()
        assert waiting.wait(10)
        answers["suspend"] = gw.client.post("/api/v1/users/root/suspend",
                                            json={"reason": "red team 8"},
                                            headers=sam_headers)  # fmt: skip
        go.set()
        thread.join(20)
    finally:
        go.set()
        del trail.append  # the instance attribute: the class's method again
    try:
        codes = {k: a.status_code for k, a in answers.items()}
        assert sorted(codes.values()) == [200, 409], {k: a.text for k, a in answers.items()}
        active = [s for s in ("root", "root2") if _status(gw, s) == "active"]
        assert active, "no active admin left"
        assert gw.client.get("/api/v1/me", headers=root_headers).status_code in {200, 403}
    finally:
        _reset(gw)


def test_a_role_removal_racing_a_suspension_leaves_an_admin(gw: DemoGateway) -> None:
    """root takes root2's admin role; while that request is on record but casbin has not
    yet dropped the rule, sam suspends root (root2 still an admin to that check)."""
    trail = gw.services.audit
    original = trail.append
    waiting, go = threading.Event(), threading.Event()

    def append(event_: Any) -> Any:
        receipt = original(event_)
        if event_.get("type") == "role.unassigned":
            waiting.set()
            go.wait(10)
        return receipt

    answers: dict[str, Any] = {}
    root_headers, sam_headers = gw.headers("root"), gw.headers("sam")

    def take_role() -> None:
        answers["unassign"] = gw.client.delete("/api/v1/admin/users/root2/roles/admin/*",
                                               headers=root_headers)  # fmt: skip

    trail.append = append  # type: ignore[method-assign]
    try:
        thread = threading.Thread(target=take_role)
        thread.start()
        assert waiting.wait(10)
        answers["suspend"] = gw.client.post("/api/v1/users/root/suspend",
                                            json={"reason": "red team 8"},
                                            headers=sam_headers)  # fmt: skip
        go.set()
        thread.join(20)
    finally:
        go.set()
        del trail.append
    try:
        codes = {k: a.status_code for k, a in answers.items()}
        assert sorted(codes.values()) == [200, 409], {k: a.text for k, a in answers.items()}
        admins = [s for s in ("root", "root2") if _status(gw, s) == "active"
                  and ("admin", "*") in gw.services.authorizer.roles_of(s)]  # fmt: skip
        assert admins, "no active admin left"
    finally:
        _reset(gw)
        if ("admin", "*") not in gw.services.authorizer.roles_of("root2"):
            gw.services.authorizer.assign(subject="root2", role="admin", domain="*")
