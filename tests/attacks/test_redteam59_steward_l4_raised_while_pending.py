"""Red team 59, as a department's steward: an entry raised to L4 while an access request
for it waits, then approved by one steward.

Rule (docs/policies.md; ``grants.service.required_approvals``): anything at L4 — the
entry or a field — is released only with the approvals of two different stewards of the
owning department; an L4 entry is used only by permission (red team 27: "once two
stewards approve it, the count is served").

Attack: dora asks for ``civil.death_registrations``' region codes while the entry is
L3: the request stores ``required_approvals`` 1. carl then raises the entry to L4 (its
fields stay L3: an entry's level is the steward's own call) and approves the request
alone. It became a grant, and the policy — which counts two approvers only for an L4
*field* released in clear, and one for an entry's own permission — served dora the L4
entry on one steward's word.

Expected: an approval counts against what the request needs now (two stewards once the
entry is L4): carl's leaves it pending and dora's query is refused until cora approves.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.attacks.redteam27 import DS, REQUESTS, ok, revoke, second_civil_steward
from tests.gateway.demo_app import DemoGateway

CASE = {"purpose": "supervision", "case_ref": "JW-RT59-L4-RAISED"}
QUERY = {**CASE, "fields": ["region_code"], "limit": 5}


def _entry_level(gw: DemoGateway, level: str) -> None:
    ok(gw.client.patch(f"/api/v1/datasets/{DS}", json={"level": level},
                       headers=gw.headers("carl")))  # fmt: skip


@pytest.fixture
def raised_while_pending(deployment: DemoGateway) -> Iterator[tuple[DemoGateway, str]]:
    """dora's request for ``DS`` asked at L3; ``DS`` then raised to L4; cora a second
    steward of civil. Back at L3, the request revoked, after."""
    gw = deployment
    second_civil_steward(gw)
    asked = ok(gw.client.post(REQUESTS, headers=gw.headers("dora"), json={
        "dataset": DS, "fields": ["region_code"], "days": 7,
        "justification": "county totals", **CASE}))  # fmt: skip
    assert asked["required_approvals"] == 1, asked
    _entry_level(gw, "L4")
    try:
        yield gw, str(asked["id"])
    finally:
        _entry_level(gw, "L3")
        revoke(gw, str(asked["id"]))
        gw.client.delete("/api/v1/admin/users/cora/roles/steward/civil",
                         headers=gw.headers("root"))  # fmt: skip


def _state(gw: DemoGateway, request_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ok(gw.client.get(f"{REQUESTS}/{request_id}",
                                             headers=gw.headers("dora")))  # fmt: skip
    return found


def test_one_stewards_approval_does_not_open_an_entry_raised_to_l4(
    raised_while_pending: tuple[DemoGateway, str],
) -> None:
    gw, request_id = raised_while_pending
    ok(gw.client.post(f"{REQUESTS}/{request_id}/approve", headers=gw.headers("carl")))
    after = _state(gw, request_id)
    assert after["status"] == "pending", after
    resp = gw.query("dora", DS, QUERY)
    assert resp.status_code == 403, resp.text[:300]
    ok(gw.client.post(f"{REQUESTS}/{request_id}/approve", headers=gw.headers("cora")))
    assert _state(gw, request_id)["status"] == "approved"
    assert gw.query("dora", DS, QUERY).status_code == 200


def test_a_grant_approved_at_l3_does_not_serve_the_entry_raised_to_l4(
    deployment: DemoGateway,
) -> None:
    """The policy's own count (the lead's call on red team 59's xfail): anything of an L4
    entry needs a grant two stewards approved, as an access request for it asks, so one
    approved by one steward while the entry was L3 stops serving it once raised."""
    gw = deployment
    asked = ok(gw.client.post(REQUESTS, headers=gw.headers("dora"), json={
        "dataset": DS, "fields": ["region_code"], "days": 7,
        "justification": "county totals", **CASE}))  # fmt: skip
    ok(gw.client.post(f"{REQUESTS}/{asked['id']}/approve", headers=gw.headers("carl")))
    try:
        assert gw.query("dora", DS, QUERY).status_code == 200  # L3, granted: served
        _entry_level(gw, "L4")
        resp = gw.query("dora", DS, QUERY)
        assert resp.status_code == 403, resp.text[:300]
    finally:
        _entry_level(gw, "L3")
        revoke(gw, str(asked["id"]))
