"""Red team 3, as a steward: a department attribute without the department's role.

Attack: carl is civil's steward (casbin: ``role:steward`` in the domain ``civil``). An
admin moves him to finance in the user store (a re-organisation; his role assignment is
left as it was — nobody made him finance's steward). Every write to finance's sources
is refused (casbin checks the domain), but reading went by the department attribute
alone: ``GET /api/v1/sources`` listed finance's sources, ``GET /api/v1/sources/{id}``
and the console's source page described them (kind, redacted connection, who
registered it), and the home page's drift panel connected to them for him.

Rule broken: stewards act only in their own department — both gates, the casbin role in
the department's domain and the department rule, always applied (defence in depth,
``gateway.stewardship.registration.access``); a change of department or role governs
the very next request (ATTACKS.md "Freshness").

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

USERS = "/api/v1/admin/users"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _console_as(gw: DemoGateway, subject: str) -> TestClient:
    """A browser of its own (cookies), signed in to the console as ``subject``."""
    return console_sign_in(gw, subject)[0]


def _move_carl(gw: DemoGateway, department: str) -> None:
    body = {"display_name": "Carl", "department": department, "clearance": "L3",
            "jurisdiction": [""], "status": "active"}  # fmt: skip
    resp = gw.client.put(f"{USERS}/carl", json=body, headers=gw.headers("root"))
    assert resp.status_code == 200, resp.text


@pytest.fixture
def moved(deployment: DemoGateway) -> Iterator[DemoGateway]:
    _move_carl(deployment, "finance")
    yield deployment
    _move_carl(deployment, "civil")


def test_a_steward_moved_without_the_role_reads_no_source_of_the_new_department(
    moved: DemoGateway,
) -> None:
    gw = moved
    headers = gw.headers("carl")
    listed = gw.client.get("/api/v1/sources", headers=headers)
    assert listed.status_code in (200, 403), listed.text
    if listed.status_code == 200:
        assert [s["id"] for s in listed.json() if s["department"] == "finance"] == []
    one = gw.client.get("/api/v1/sources/finance-db", headers=headers)
    assert one.status_code == 403, one.text
    console = _console_as(gw, "carl")
    page = console.get("/console/sources/finance-db")
    assert page.status_code == 403, page.status_code
    listing = console.get("/console/sources")
    assert "finance-db" not in listing.text
    assert "finance-db" not in console.get("/console").text  # the home's drift panel
    # fiona, finance's steward by role and department, still reads it
    fiona = gw.client.get("/api/v1/sources/finance-db", headers=gw.headers("fiona"))
    assert fiona.status_code == 200, fiona.text


def test_the_steward_reads_their_own_departments_sources_again_once_back(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    resp = gw.client.get("/api/v1/sources/civil-db", headers=gw.headers("carl"))
    assert resp.status_code == 200, resp.text
    listed = gw.client.get("/api/v1/sources", headers=gw.headers("carl")).json()
    assert [s["id"] for s in listed] == ["civil-db"]


def test_a_steward_moved_away_no_longer_sees_the_old_departments_requests(
    moved: DemoGateway,
) -> None:
    """The other way round: carl, moved to finance but still holding civil's role, kept
    seeing civil's pending access requests (requester, fields, purpose, case,
    justification) — though he may no longer decide on them (the department gate)."""
    gw = moved
    asked = gw.client.post("/api/v1/access-requests", json={
        "dataset": "civil.dibao_recipients", "fields": ["phone"], "days": 7,
        "justification": "RT3 department move", "purpose": "supervision",
        "case_ref": "JW-RT3-MOVE"}, headers=gw.headers("alice"))  # fmt: skip
    assert asked.status_code == 201, asked.text
    try:
        listed = gw.client.get("/api/v1/access-requests", headers=gw.headers("carl"))
        assert listed.status_code == 200, listed.text
        assert asked.json()["id"] not in [r["id"] for r in listed.json()]
        console = _console_as(gw, "carl")
        assert asked.json()["id"] not in console.get("/console/requests").text
        assert "RT3 department move" not in console.get("/console").text
    finally:
        path = f"/api/v1/access-requests/{asked.json()['id']}/revoke"
        ended = gw.client.post(path, json={"reason": "test over"}, headers=gw.headers("alice"))
        assert ended.status_code == 200, ended.text
