"""Red team 55's left row (6), as an analyst: a re-identification asked on a run whose
hit list has expired.

An expired run's hits, changes and releases are 410 ("run the model again",
``run_service.require_kept``), but asking for the real identities behind its hits was
still taken (201): each source department's steward then had a pending request to
weigh — the people, the case, the justification — and their approvals released nothing
(the release is the 410). The ask is now the 410 too, the expired list dropped as every
other read of it does, and nothing is pending. Another analyst's run stays a 404 whether
or not it has expired (its existence is not told).

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from tests.attacks.test_redteam55_analyst_hit_list_past_its_expiry import _expire, _stored
from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
REQUESTS = "/api/v1/access-requests"


def _ask(gw: DemoGateway, subject: str, run_id: str) -> int:
    asked = gw.client.post(REQUESTS, headers=gw.headers(subject), json={
        "run": run_id, "hits": [1], "purpose": "supervision", "case_ref": "JW-RT55-REID",
        "justification": "open a case on this hit"})  # fmt: skip
    return asked.status_code


def test_identities_behind_an_expired_list_cannot_be_asked(deployment: DemoGateway) -> None:
    gw = deployment
    view = run_to_end(gw, "dora", MODEL)
    assert view["status"] == "done" and view["hits"] >= 1, view
    run_id = str(view["id"])
    _expire(gw, run_id)
    pending = len(gw.client.get(REQUESTS, headers=gw.headers("carl")).json())
    assert _ask(gw, "dora", run_id) == 410
    assert len(gw.client.get(REQUESTS, headers=gw.headers("carl")).json()) == pending
    assert _stored(gw, run_id) == 0, "the expired hit list is still stored"
    assert _ask(gw, "alice", run_id) == 404  # another's run, expired or not, is not told
