"""Red team 15: the request listings tell a grant row changed behind the gateway.

The database insider flips alice's pending access request to ``approved`` (carl's
approval, 30 days) and dora's pending re-identification to ``approved`` by both
departments. Since 0018 neither grants anything (``catalog.grant_seals``), but
GET /api/v1/access-requests, the one view the requester, the stewards and the console
read, showed both as approved, with approvals nobody gave, nothing telling them from a
genuine grant: a steward reviewing the department's grants, or an officer, took the
insider's rows for decisions on record. Each request now carries ``sealed`` (false:
the values are not the gateway's and grant nothing), as the user listing does (97909dd).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-RT15-LIST"}
REQUESTS = "/api/v1/access-requests"


def _ask(gw: DemoGateway) -> str:
    body = {"dataset": DIBAO, "fields": ["phone"], "justification": "rt15", "days": 5}
    resp = gw.client.post(REQUESTS, headers=gw.headers("alice"), json={**body, **CASE})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def _listed(gw: DemoGateway, who: str) -> dict[str, Any]:
    resp = gw.client.get(REQUESTS, headers=gw.headers(who))
    assert resp.status_code == 200, resp.text
    return {r["id"]: r for r in resp.json()}


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    deployment.sql("DELETE FROM access_requests WHERE requester = 'alice'")
    yield deployment
    deployment.sql("DELETE FROM access_requests WHERE requester = 'alice'")


def test_an_access_request_approved_behind_the_gateway_is_listed_unsealed(
    gw: DemoGateway,
) -> None:
    flipped, genuine = _ask(gw), _ask(gw)
    resp = gw.client.post(f"{REQUESTS}/{genuine}/approve", headers=gw.headers("carl"), json={})
    assert resp.status_code == 200, resp.text
    assert resp.json()["sealed"] is True
    now = datetime.now(UTC)
    gw.sql("UPDATE access_requests SET status = 'approved', approved_at = :now, "
           "expires_at = :exp, approvals = :a, days = 30 WHERE id = :i", now=now,
           exp=now + timedelta(days=30), i=flipped,
           a='[{"by": "carl", "at": "2026-01-01T00:00:00.000000Z"}]')  # fmt: skip
    for who in ("alice", "carl"):
        listed = _listed(gw, who)
        assert listed[flipped]["status"] == "approved"
        assert listed[flipped]["sealed"] is False
        assert listed[genuine]["sealed"] is True
    one = gw.client.get(f"{REQUESTS}/{flipped}", headers=gw.headers("carl"))
    assert one.status_code == 200, one.text
    assert one.json()["sealed"] is False


def test_a_re_identification_approved_behind_the_gateway_is_listed_unsealed(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    run = run_to_end(gw, "dora", "demo.payroll_on_dibao")
    assert run["status"] == "done" and run["hits"] >= 1, run
    resp = gw.client.post(REQUESTS, headers=gw.headers("dora"), json={
        "run": run["id"], "hits": [1], "justification": "rt15", **CASE})  # fmt: skip
    assert resp.status_code == 201, resp.text
    assert resp.json()["sealed"] is True
    flipped = str(resp.json()["id"])
    gw.sql("UPDATE reidentification_requests SET status = 'approved', approved_at = :now, "
           "approvals = :a WHERE id = :i", now=datetime.now(UTC), i=flipped,
           a='[{"by": "carl", "department": "civil", "at": "2026-01-01T00:00:00.000000Z"}, '
             '{"by": "fiona", "department": "finance", "at": "2026-01-01T00:00:00.000000Z"}]',
           )  # fmt: skip
    for who in ("dora", "carl"):
        listed = _listed(gw, who)
        assert listed[flipped]["status"] == "approved"
        assert listed[flipped]["sealed"] is False
    one = gw.client.get(f"{REQUESTS}/{flipped}", headers=gw.headers("dora"))
    assert one.status_code == 200, one.text
    assert one.json()["sealed"] is False
