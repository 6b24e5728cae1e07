"""Red team 15: a rejection or a revocation sealed what an insider wrote into a request.

Red team 14 left it open: ``seal_grant_row`` sealed a request row at every update. The
approvals check the row first (``require_sealed``); a rejection, a revocation and an
officer's emergency revocation did not, and sealed whatever the row held. The database
insider widens alice's pending request (more fields, 90 days) or her approved grant
(more fields); carl rejects the one, alice revokes the other: both rows then verified,
the insider's fields on record as what was asked and granted, and the listing said
``sealed: true`` (c8eeff8). A write to a request now seals it only if the values it
loaded verified, as for users; such a write is still made (it only narrows).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-RT15-REJECT"}
REQUESTS = "/api/v1/access-requests"
WIDER = "UPDATE access_requests SET fields = :f, days = 90 WHERE id = :i"
FIELDS = '["id_number", "phone"]'


def _ask(gw: DemoGateway) -> str:
    body = {"dataset": DIBAO, "fields": ["phone"], "justification": "rt15", "days": 5}
    resp = gw.client.post(REQUESTS, headers=gw.headers("alice"), json={**body, **CASE})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def _one(gw: DemoGateway, request_id: str) -> dict[str, Any]:
    resp = gw.client.get(f"{REQUESTS}/{request_id}", headers=gw.headers("carl"))
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _wider(gw: DemoGateway, request_id: str) -> None:
    if gw.services.engine.dialect.name == "postgresql":
        gw.sql(WIDER.replace(":f", "CAST(:f AS JSON)"), f=FIELDS, i=request_id)
    else:
        gw.sql(WIDER, f=FIELDS, i=request_id)


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    deployment.sql("DELETE FROM access_requests WHERE requester = 'alice'")
    yield deployment
    deployment.sql("DELETE FROM access_requests WHERE requester = 'alice'")


def test_a_rejection_does_not_seal_an_insiders_edit(gw: DemoGateway) -> None:
    request_id = _ask(gw)
    _wider(gw, request_id)
    assert _one(gw, request_id)["sealed"] is False
    resp = gw.client.post(f"{REQUESTS}/{request_id}/reject", headers=gw.headers("carl"),
                          json={"reason": "no"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    row = _one(gw, request_id)
    assert row["status"] == "rejected" and row["days"] == 90
    assert row["sealed"] is False


def test_a_revocation_does_not_seal_an_insiders_edit(gw: DemoGateway) -> None:
    request_id = _ask(gw)
    resp = gw.client.post(f"{REQUESTS}/{request_id}/approve", headers=gw.headers("carl"),
                          json={})  # fmt: skip
    assert resp.status_code == 200, resp.text
    _wider(gw, request_id)
    resp = gw.client.post(f"{REQUESTS}/{request_id}/revoke", headers=gw.headers("alice"),
                          json={"reason": "done"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    row = _one(gw, request_id)
    assert row["status"] == "revoked" and row["sealed"] is False


def test_a_rejection_of_an_untouched_request_is_sealed(gw: DemoGateway) -> None:
    request_id = _ask(gw)
    resp = gw.client.post(f"{REQUESTS}/{request_id}/reject", headers=gw.headers("carl"),
                          json={"reason": "no"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert _one(gw, request_id)["sealed"] is True
