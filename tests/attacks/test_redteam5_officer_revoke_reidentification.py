"""Red team 5, as a security officer: an emergency ``revoke-grants`` left the analyst's
re-identifications standing.

Rule: an officer's emergency revocation ends every grant of the user now — approved
ones revoked, pending ones closed — so that nothing the user was given, or a steward
could still give them, outlives the officer's decision (THREAT_MODEL, known gaps:
"An emergency ``revoke-grants`` …").

Attack: an analyst under investigation holds an approved re-identification of hits of
their own comparison run (raw ID numbers released on request) and a second one still
pending. The officer calls ``POST /api/v1/users/{analyst}/revoke-grants``. The analyst
then downloads ``…/hits?reidentified=true`` again and receives the ID numbers in clear,
and a steward approves the pending request after the officer acted: re-identification
requests live in their own table, which the emergency revocation never touched.
"""

from __future__ import annotations

from typing import Any

import orjson

from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
ASK = {"purpose": "supervision", "case_ref": "JW-CASE-51", "justification": "open a case"}


def _ask(gw: DemoGateway, run_id: str, hit_ids: list[int]) -> dict[str, Any]:
    resp = gw.client.post("/api/v1/access-requests", json={"run": run_id, "hits": hit_ids, **ASK},
                          headers=gw.headers("dora"))  # fmt: skip
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def _approve(gw: DemoGateway, subject: str, request_id: str) -> Any:
    return gw.client.post(f"/api/v1/access-requests/{request_id}/approve",
                          headers=gw.headers(subject))  # fmt: skip


def _released(gw: DemoGateway, run_id: str) -> Any:
    return gw.client.get(f"/api/v1/comparison-runs/{run_id}/hits",
                         params={"reidentified": "true"}, headers=gw.headers("dora"))  # fmt: skip


def test_emergency_revocation_ends_re_identifications_too(deployment: DemoGateway) -> None:
    gw = deployment
    run = run_to_end(gw, "dora", MODEL)
    assert run["status"] == "done" and run["hits"] >= 2, run
    approved = _ask(gw, run["id"], [1])
    assert _approve(gw, "carl", approved["id"]).status_code == 200
    assert _approve(gw, "fiona", approved["id"]).status_code == 200
    before = _released(gw, run["id"])
    assert before.status_code == 200, before.text
    assert orjson.loads(before.content)["rows"], "the release works before the revocation"
    pending = _ask(gw, run["id"], [2])

    revoke = gw.client.post("/api/v1/users/dora/revoke-grants",
                            json={"reason": "incident IR-51: re-identified data leaked"},
                            headers=gw.headers("sam"))  # fmt: skip
    assert revoke.status_code == 200, revoke.text
    assert approved["id"] in revoke.json()["revoked"], revoke.json()
    assert pending["id"] in revoke.json()["revoked"], revoke.json()

    after = _released(gw, run["id"])
    assert after.status_code == 403, (
        "the officer revoked the analyst's grants, yet the ID numbers are still released"
    )
    # nor can a steward approve the pending request after the officer acted
    assert _approve(gw, "carl", pending["id"]).status_code in (403, 409)
    assert _approve(gw, "fiona", pending["id"]).status_code in (403, 409)
    view = gw.client.get(f"/api/v1/access-requests/{pending['id']}", headers=gw.headers("dora"))
    assert view.json()["status"] == "revoked", view.json()
    assert _released(gw, run["id"]).status_code == 403
