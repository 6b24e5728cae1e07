"""Red team 5, as a steward: another department's access request read by its id.

Attack: carl is civil's steward and sees alice's access request to civil's entry (its
id is in his list). An admin moves him to finance in the user store; his casbin role in
``civil`` is left as it was. Red team 3 closed the list (both gates: the steward's role
in the department's domain *and* the department), but ``GET /api/v1/access-requests/{id}``
still asked casbin alone — so carl, no longer civil's, kept following each civil request
he had seen: requester, fields, purpose, case reference, justification, approvals,
status — and the same after he was taken out of every department.

Rule broken: stewards act only in their own department — both gates on every read and
decision (``gateway.stewardship.grants.service.steward_departments``); a change of
department governs the very next request (ATTACKS.md "Freshness", "Identity of a
target": the same request reached by its id instead of the list).

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.demo_app import DemoGateway

USERS = "/api/v1/admin/users"
REQUESTS = "/api/v1/access-requests"


def _put_carl(gw: DemoGateway, department: str | None) -> None:
    body = {"display_name": "Carl", "department": department, "clearance": "L3",
            "jurisdiction": [""], "status": "active"}  # fmt: skip
    resp = gw.client.put(f"{USERS}/carl", json=body, headers=gw.headers("root"))
    assert resp.status_code == 200, resp.text


@pytest.fixture
def seen_request(deployment: DemoGateway) -> Iterator[str]:
    """Alice's request to civil's entry, listed to carl while he is civil's steward."""
    gw = deployment
    asked = gw.client.post(REQUESTS, json={
        "dataset": "civil.dibao_recipients", "fields": ["phone"], "days": 7,
        "justification": "RT5 request by id", "purpose": "supervision",
        "case_ref": "JW-RT5-BYID"}, headers=gw.headers("alice"))  # fmt: skip
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    listed = gw.client.get(REQUESTS, headers=gw.headers("carl"))
    assert request_id in [r["id"] for r in listed.json()]  # he has seen it
    try:
        yield request_id
    finally:
        _put_carl(gw, "civil")
        ended = gw.client.post(f"{REQUESTS}/{request_id}/revoke", json={"reason": "test over"},
                               headers=gw.headers("alice"))  # fmt: skip
        assert ended.status_code == 200, ended.text


@pytest.mark.parametrize("moved_to", ["finance", None])
def test_a_steward_moved_away_cannot_read_the_old_departments_request_by_id(
    deployment: DemoGateway, seen_request: str, moved_to: str | None
) -> None:
    gw = deployment

    def read(subject: str) -> int:
        return gw.client.get(f"{REQUESTS}/{seen_request}", headers=gw.headers(subject)).status_code

    assert read("carl") == 200
    _put_carl(gw, moved_to)
    resp = gw.client.get(f"{REQUESTS}/{seen_request}", headers=gw.headers("carl"))
    assert resp.status_code == 404, resp.text
    assert "RT5 request by id" not in resp.text
    # the requester still reads it; carl back in civil reads it again
    assert read("alice") == 200
    _put_carl(gw, "civil")
    assert read("carl") == 200
