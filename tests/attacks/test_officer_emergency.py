"""Emergency response through HTTP (issue 12): an officer suspends a user, freezes an
entry, revokes a user's grants; lifting a suspension or a freeze takes an admin who is
not the one who imposed it; everyone else is refused; every action is on record.

Module-scoped deployment: each test restores what it changed (a second admin, root2,
lifts what root imposes; root lifts what sam imposes).
"""

from __future__ import annotations

from typing import Any

import pytest

from audit.search import EventFilter, list_events
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-001", "fields": ["region_code"],
         "limit": 1}  # fmt: skip
COMPARISON = {
    "left": {"dataset": "finance.payroll", "key": "id_number", "fields": ["employer"]},
    "right": {"dataset": DIBAO, "key": "id_number", "fields": ["region_code"]},
    "purpose": "supervision", "case_ref": "JW-2026-001",
}  # fmt: skip
# the alert the actions answer: its id is filled in by the ``gw`` fixture (an unknown
# alert id is a 404, tests/audit/test_live_alerts.py)
WHY = {"reason": "incident IR-7: exfiltration suspected", "alert_id": ""}


def _post(gw: DemoGateway, who: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return gw.client.post(f"/api/v1{path}", json=body if body is not None else WHY,
                          headers=gw.headers(who))  # fmt: skip


def _events(gw: DemoGateway, type_: str, resource: str) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type=type_, resource=resource), limit=50,
                       order="desc")  # fmt: skip
    return list(page["items"])


def _on_record(gw: DemoGateway, type_: str, resource: str, by: str) -> dict[str, Any]:
    events = _events(gw, type_, resource)
    assert events, (type_, resource)
    event = events[0]
    assert event["actor"]["sub"] == by
    assert event["details"]["reason"] == WHY["reason"]
    assert event["details"]["alert_id"] == WHY["alert_id"]
    return event


@pytest.fixture(scope="module")
def gw(deployment: DemoGateway) -> DemoGateway:
    """The deployment with a second admin (root2), so root's own actions can be lifted."""
    root = deployment.headers("root")
    resp = deployment.client.put(
        "/api/v1/admin/users/root2",
        json={"display_name": "Second admin", "clearance": "L4"}, headers=root,
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    resp = deployment.client.post("/api/v1/admin/users/root2/roles",
                                  json={"role": "admin", "domain": "*"}, headers=root)  # fmt: skip
    assert resp.status_code == 200, resp.text
    for _ in range(6):  # repeated denials of arthur: the alert the officers answer
        denied = deployment.query("arthur", DIBAO, {**QUERY, "purpose": "curiosity"})
        assert denied.status_code == 403, denied.text
    listed = deployment.client.get("/api/v1/audit/alerts", headers=deployment.headers("sam"))
    WHY["alert_id"] = next(
        a["id"] for a in listed.json()["alerts"]
        if a["rule"] == "repeated_denials" and a["actor"] == "arthur"
    )  # fmt: skip
    return deployment


def test_suspension_refuses_the_very_next_request_and_needs_another_admin_to_lift(
    gw: DemoGateway,
) -> None:
    alice = gw.headers("alice")  # minted before the suspension, still valid after it
    assert gw.client.get("/api/v1/access-requests", headers=alice).status_code == 200
    resp = _post(gw, "sam", "/users/alice/suspend")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "suspended" and resp.json()["suspended_by"] == "sam"
    try:
        refused = gw.client.get("/api/v1/access-requests", headers=alice)
        assert refused.status_code == 403 and refused.json()["code"] == "account_disabled"
        assert gw.client.post(f"/api/v1/datasets/{DIBAO}/query", json=QUERY,
                              headers=alice).status_code == 403  # fmt: skip
        _on_record(gw, "user.suspended", "user:alice", "sam")
        # twice is a conflict; the officer cannot lift it (not an admin)
        assert _post(gw, "sam", "/users/alice/suspend").status_code == 409
        assert _post(gw, "sam", "/users/alice/unsuspend").status_code == 403
        # the admin PUT cannot lift it behind the two-person rule either
        put = gw.client.put(
            "/api/v1/admin/users/alice",
            json={"display_name": "Alice", "clearance": "L2", "status": "active"},
            headers=gw.headers("root"),
        )  # fmt: skip
        assert put.status_code == 403, put.text
    finally:
        lifted = _post(gw, "root", "/users/alice/unsuspend")
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["status"] == "active"
    event = _on_record(gw, "user.unsuspended", "user:alice", "root")
    assert event["details"]["suspended_by"] == "sam"
    assert gw.client.get("/api/v1/access-requests", headers=alice).status_code == 200


def test_an_admin_who_suspended_cannot_lift_it_another_admin_can(gw: DemoGateway) -> None:
    assert _post(gw, "root", "/users/dora/suspend").status_code == 200
    try:
        resp = _post(gw, "root", "/users/dora/unsuspend")
        assert resp.status_code == 403, resp.text
        assert gw.query("dora", DIBAO, QUERY).status_code == 403
    finally:
        lifted = _post(gw, "root2", "/users/dora/unsuspend")
    assert lifted.status_code == 200, lifted.text
    assert gw.query("dora", DIBAO, QUERY).status_code == 200


def test_a_frozen_entry_refuses_the_next_query_and_comparison(gw: DemoGateway) -> None:
    assert gw.query("dora", DIBAO, QUERY).status_code == 200  # cached entry, warm
    resp = _post(gw, "sam", f"/datasets/{DIBAO}/freeze")
    assert resp.status_code == 200, resp.text
    assert resp.json()["frozen"] is True and resp.json()["frozen_by"] == "sam"
    try:
        query = gw.query("dora", DIBAO, QUERY)
        assert query.status_code == 423 and query.json()["code"] == "dataset_frozen", query.text
        denied = gw.request_events(gw.last_request_id(), 1)
        assert denied and denied[-1]["type"] == "query.denied"
        assert denied[-1]["details"]["code"] == "dataset_frozen"
        compare = gw.compare("dora", COMPARISON)
        assert compare.status_code == 423, compare.text
        assert compare.json()["code"] == "dataset_frozen"
        assert b"tk_" not in compare.content
        _on_record(gw, "dataset.frozen", f"dataset:{DIBAO}", "sam")
        assert _post(gw, "sam", f"/datasets/{DIBAO}/freeze").status_code == 409
        assert _post(gw, "sam", f"/datasets/{DIBAO}/unfreeze").status_code == 403
    finally:
        lifted = _post(gw, "root", f"/datasets/{DIBAO}/unfreeze")
    assert lifted.status_code == 200, lifted.text
    event = _on_record(gw, "dataset.unfrozen", f"dataset:{DIBAO}", "root")
    assert event["details"]["frozen_by"] == "sam"
    assert gw.query("dora", DIBAO, QUERY).status_code == 200
    assert gw.compare("dora", COMPARISON).status_code == 200


def test_the_admin_who_froze_cannot_unfreeze(gw: DemoGateway) -> None:
    assert _post(gw, "root", f"/datasets/{DIBAO}/freeze").status_code == 200
    try:
        assert _post(gw, "root", f"/datasets/{DIBAO}/unfreeze").status_code == 403
    finally:
        lifted = _post(gw, "root2", f"/datasets/{DIBAO}/unfreeze")
    assert lifted.status_code == 200, lifted.text


def test_revoke_grants_ends_every_approved_grant_of_the_user(gw: DemoGateway) -> None:
    ids = []
    for case_ref in ("JW-EM-1", "JW-EM-2"):
        resp = gw.client.post(
            "/api/v1/access-requests",
            json={"dataset": DIBAO, "fields": ["phone"], "purpose": "audit",
                  "case_ref": case_ref, "justification": "emergency test", "days": 1},
            headers=gw.headers("alice"),
        )  # fmt: skip
        assert resp.status_code == 201, resp.text
        ids.append(str(resp.json()["id"]))
        approved = gw.client.post(f"/api/v1/access-requests/{ids[-1]}/approve",
                                  headers=gw.headers("carl"))  # fmt: skip
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved", approved.text
    resp = _post(gw, "sam", "/users/alice/revoke-grants")
    assert resp.status_code == 200, resp.text
    assert set(ids) <= set(resp.json()["revoked"])
    for request_id in ids:
        state = gw.client.get(f"/api/v1/access-requests/{request_id}",
                              headers=gw.headers("alice"))  # fmt: skip
        assert state.json()["status"] == "revoked"
    event = _on_record(gw, "grants.revoked", "user:alice", "sam")
    assert set(ids) <= set(event["details"]["access_requests"])


def test_revoke_grants_also_closes_pending_requests(gw: DemoGateway) -> None:
    """A request still waiting when the officer acts must not become a grant later: a
    steward approving it after the revocation is refused and nothing unmasks."""
    resp = gw.client.post(
        "/api/v1/access-requests",
        json={"dataset": DIBAO, "fields": ["phone"], "purpose": "audit",
              "case_ref": "JW-EM-PENDING", "justification": "emergency test", "days": 1},
        headers=gw.headers("alice"),
    )  # fmt: skip
    assert resp.status_code == 201, resp.text
    pending = str(resp.json()["id"])
    revoked = _post(gw, "sam", "/users/alice/revoke-grants")
    assert revoked.status_code == 200, revoked.text
    assert pending in revoked.json()["revoked"]
    late = gw.client.post(f"/api/v1/access-requests/{pending}/approve",
                          headers=gw.headers("carl"))  # fmt: skip
    assert late.status_code == 409, late.text
    state = gw.client.get(f"/api/v1/access-requests/{pending}", headers=gw.headers("alice"))
    assert state.json()["status"] == "revoked"
    event = _on_record(gw, "grants.revoked", "user:alice", "sam")
    assert pending in event["details"]["access_requests"]


@pytest.mark.parametrize("who", ["alice", "dora", "carl"])
def test_analysts_and_stewards_cannot_respond(gw: DemoGateway, who: str) -> None:
    for path in ("/users/dora/suspend", "/users/dora/unsuspend", "/users/dora/revoke-grants",
                 f"/datasets/{DIBAO}/freeze", f"/datasets/{DIBAO}/unfreeze"):  # fmt: skip
        resp = _post(gw, who, path)
        assert resp.status_code == 403, (who, path, resp.text)
    assert gw.query("dora", DIBAO, QUERY).status_code == 200


def test_a_reason_is_required_and_bounded(gw: DemoGateway) -> None:
    assert _post(gw, "sam", "/users/alice/suspend", {}).status_code == 400
    assert _post(gw, "sam", "/users/alice/suspend", {"reason": "  "}).status_code == 400
    assert _post(gw, "sam", "/users/alice/suspend", {"reason": "x" * 501}).status_code == 400
    assert _post(gw, "sam", "/users/nobody/suspend", {"reason": "r"}).status_code == 404
    assert _post(gw, "sam", "/datasets/no.such/freeze", {"reason": "r"}).status_code == 404
    assert gw.client.get("/api/v1/access-requests", headers=gw.headers("alice")).status_code \
        == 200  # fmt: skip
