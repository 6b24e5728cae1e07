"""Red team 6, as an analyst: a revoked grant still unmasks a stored hit list.

alice asks to see ``phone`` of the dibao roll in clear for one case; carl (steward of
civil affairs) approves. She stores a comparison model whose hit list outputs
``d.phone`` and runs it under that case: the hits carry the numbers in clear, as the
grant allowed then. carl revokes the grant ("until revoked", README). alice downloads
the stored hits again (``GET /api/v1/comparison-runs/{id}/hits``): every phone number
is still in clear. Each read of a stored hit list is "decided again exactly as a new
run would be" (``run_service.check_release``), but that check refuses only fields now
*denied*; a field now *masked* is served as it was stored, unmasked.

Rule broken: freshness — a revoked (or expired) grant governs the very next request;
stored rows released again follow the decision as it is now.

Expected: once the grant is revoked, the stored hits are refused (403) or served masked.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

import re
from typing import Any

from tests.gateway.comparison_env import wait
from tests.gateway.demo_app import DemoGateway

CASE = {"purpose": "supervision", "case_ref": "JW-RT6-GRANT"}
MODEL = "rt6.phones_on_payroll"
MASKED = re.compile(r"^\d{3}\*{4}\d{4}$")


def _model(gw: DemoGateway) -> None:
    body = {
        "id": MODEL, "name": {"zh": "电话", "en": "phones"},
        "sides": [{"alias": "p", "dataset": "finance.payroll"},
                  {"alias": "d", "dataset": "civil.dibao_recipients"}],
        "joins": [{"left": "p", "left_key": "id_number", "right": "d",
                   "right_key": "id_number"}],
        "conditions": [], "output": ["p.employer", "d.phone", "d.region_code"],
    }  # fmt: skip
    made = gw.client.post("/api/v1/comparison-models", json=body, headers=gw.headers("alice"))
    assert made.status_code == 201, made.text


def _phones(gw: DemoGateway, run_id: str) -> tuple[int, list[Any]]:
    resp = gw.client.get(f"/api/v1/comparison-runs/{run_id}/hits", params={"format": "json"},
                         headers=gw.headers("alice"))  # fmt: skip
    if resp.status_code != 200:
        return resp.status_code, []
    return 200, [row["d.phone"] for row in resp.json()["rows"]]


def test_a_revoked_grant_no_longer_unmasks_the_stored_hits(deployment: DemoGateway) -> None:
    gw = deployment
    asked = gw.client.post("/api/v1/access-requests", headers=gw.headers("alice"), json={
        "dataset": "civil.dibao_recipients", "fields": ["phone"], **CASE,
        "justification": "contact the matched claimants", "days": 7,
    })  # fmt: skip
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    approved = gw.client.post(f"/api/v1/access-requests/{request_id}/approve",
                              headers=gw.headers("carl"))  # fmt: skip
    assert approved.status_code == 200, approved.text
    _model(gw)
    started = gw.client.post(f"/api/v1/comparison-models/{MODEL}/runs", json=CASE,
                             headers=gw.headers("alice"))  # fmt: skip
    assert started.status_code == 202, started.text
    run = wait(gw, "alice", started.json()["id"])
    assert run["status"] == "done", run
    status, phones = _phones(gw, run["id"])
    assert status == 200 and phones, (status, phones)
    assert not any(MASKED.match(p) for p in phones if p), phones  # in clear, as granted

    revoked = gw.client.post(f"/api/v1/access-requests/{request_id}/revoke",
                             json={"reason": "closed"}, headers=gw.headers("carl"))  # fmt: skip
    assert revoked.status_code == 200, revoked.text

    status, phones = _phones(gw, run["id"])
    assert status == 403 or all(p is None or MASKED.match(p) for p in phones), (
        f"after the grant was revoked the stored hits still show phones in clear: {phones[:3]}"
    )
