"""Access requests: an approved request unmasks, until it expires; checks and balances."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import orjson

from catalog.access_requests import AccessRequest
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-007"}
MASKED_PHONE = re.compile(r"1\d{2}\*{4}\d{4}")
CLEAR_PHONE = re.compile(r"1[3-9]\d{9}")


def _ask(gw: DemoGateway, subject: str = "alice", fields: list[str] | None = None) -> dict:
    resp = gw.client.post(
        "/api/v1/access-requests",
        json={
            "dataset": DIBAO,
            "fields": fields or ["phone"],
            "days": 7,
            "justification": "verify contact of suspected duplicate claimant",
            **CASE,
        },
        headers=gw.headers(subject),
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def _phones(gw: DemoGateway, unmask: bool) -> list[str]:
    body = {"fields": ["phone", "region_code"], "limit": 20, **CASE}
    if unmask:
        body["unmask"] = ["phone"]
    resp = gw.query("alice", DIBAO, body)
    assert resp.status_code == 200, resp.text
    return [r["phone"] for r in orjson.loads(resp.content)["rows"]]


def test_unmasking_needs_an_approved_request_and_ends_when_it_expires(gw: DemoGateway) -> None:
    before = gw.query("alice", DIBAO, {"fields": ["phone"], "unmask": ["phone"], **CASE})
    assert before.status_code == 403
    details = before.json()["details"]
    assert details["requires_approval"] is True
    assert "access-requests" in details["how_to_ask"]

    req = _ask(gw)
    assert req["status"] == "pending"
    approved = gw.client.post(
        f"/api/v1/access-requests/{req['id']}/approve", headers=gw.headers("carl")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"

    phones = _phones(gw, unmask=True)
    assert phones and all(CLEAR_PHONE.fullmatch(p) for p in phones)
    # the approved grant for the field says "allow": it is released either way
    assert all(CLEAR_PHONE.fullmatch(p) for p in _phones(gw, unmask=False))

    with gw.services.sessions() as session:  # time passes: the grant expires
        row = session.get(AccessRequest, req["id"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.commit()
    after = gw.query("alice", DIBAO, {"fields": ["phone"], "unmask": ["phone"], **CASE})
    assert after.status_code == 403


def test_requester_cannot_approve_and_other_departments_cannot_decide(gw: DemoGateway) -> None:
    req = _ask(gw)
    own = gw.client.post(
        f"/api/v1/access-requests/{req['id']}/approve", headers=gw.headers("alice")
    )
    assert own.status_code == 403
    other_dept = gw.client.post(
        f"/api/v1/access-requests/{req['id']}/approve", headers=gw.headers("fiona")
    )
    assert other_dept.status_code == 403
    rejected = gw.client.post(
        f"/api/v1/access-requests/{req['id']}/reject",
        json={"reason": "not needed"},
        headers=gw.headers("carl"),
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    again = gw.client.post(
        f"/api/v1/access-requests/{req['id']}/approve", headers=gw.headers("carl")
    )
    assert again.status_code == 409


def test_revoked_grant_stops_unmasking(gw: DemoGateway) -> None:
    req = _ask(gw)
    gw.client.post(f"/api/v1/access-requests/{req['id']}/approve", headers=gw.headers("carl"))
    assert all(CLEAR_PHONE.fullmatch(p) for p in _phones(gw, unmask=True))
    revoked = gw.client.post(
        f"/api/v1/access-requests/{req['id']}/revoke",
        json={"reason": "case closed"},
        headers=gw.headers("carl"),
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    blocked = gw.query("alice", DIBAO, {"fields": ["phone"], "unmask": ["phone"], **CASE})
    assert blocked.status_code == 403


def test_listing_shows_own_and_department_requests(gw: DemoGateway) -> None:
    req = _ask(gw)
    mine = gw.client.get("/api/v1/access-requests", headers=gw.headers("alice")).json()
    assert req["id"] in {r["id"] for r in mine}
    carls = gw.client.get("/api/v1/access-requests", headers=gw.headers("carl")).json()
    assert req["id"] in {r["id"] for r in carls}
    fionas = gw.client.get("/api/v1/access-requests", headers=gw.headers("fiona")).json()
    assert req["id"] not in {r["id"] for r in fionas}
    hidden = gw.client.get(f"/api/v1/access-requests/{req['id']}", headers=gw.headers("fiona"))
    assert hidden.status_code == 404


def test_bad_requests_are_refused_with_a_message(gw: DemoGateway) -> None:
    h = gw.headers("alice")
    cases = [
        {"dataset": DIBAO, "fields": ["nope"], "days": 7, "justification": "x", **CASE},
        {"dataset": DIBAO, "fields": ["phone"], "days": 91, "justification": "x", **CASE},
        {
            "dataset": DIBAO,
            "fields": ["phone"],
            "days": 7,
            "justification": "x",
            "purpose": "curiosity",
            "case_ref": "X",
        },
    ]
    for body in cases:
        resp = gw.client.post("/api/v1/access-requests", json=body, headers=h)
        assert resp.status_code == 400, resp.text
        assert resp.json()["message"]
    missing = gw.client.post(
        "/api/v1/access-requests",
        headers=h,
        json={**cases[0], "dataset": "civil.nope", "fields": ["phone"]},
    )
    assert missing.status_code == 404
