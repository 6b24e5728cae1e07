"""Red team 45, as an analyst: a re-identification approved under one case and released
under another.

A re-identification request (``POST /api/v1/access-requests`` naming a run and hits)
carries its own ``purpose`` and ``case_ref``, free text: the stewards of each source
department read and approve *that* case. The release re-reads the sides under the
*run's* purpose and case, and ``reidentification.released`` is recorded under the run's
case (naming the request ids). dora screens under one case (``JW-RUN-1``, the comparison
environment's), asks for the identities under another (``JW-RT45-OPENED``), both
departments approve, she reads the identities: an officer who follows the approved case
finds the request and its approvals, not the release of the ID numbers.

Expected: the release is on record under the case its approval names (or a request
whose case is not its run's is refused). Left by red team 45 as a design decision
(low); decided at stop 37: a screening run may open a case (one per person, even), and
each released hit is on record under the purpose and case the stewards approved (the
run's in the record's details), one record per case. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from audit.search import EventFilter, list_events
from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

OPENED = "JW-RT45-OPENED"


def _approved(gw: DemoGateway, run: dict[str, Any], case_ref: str, hit: int = 1) -> str:
    """dora asks for ``hit`` under ``case_ref``; both departments approve; its id."""
    asked = gw.client.post("/api/v1/access-requests", headers=gw.headers("dora"), json={
        "run": run["id"], "hits": [hit], "purpose": "supervision", "case_ref": case_ref,
        "justification": "open a case on the first hit"})  # fmt: skip
    assert asked.status_code == 201, asked.text
    for steward in ("carl", "fiona"):
        approved = gw.client.post(f"/api/v1/access-requests/{asked.json()['id']}/approve",
                                  headers=gw.headers(steward), json={})  # fmt: skip
        assert approved.status_code == 200, approved.text
    return str(asked.json()["id"])


def _release(gw: DemoGateway, run: dict[str, Any]) -> Any:
    return gw.client.get(f"/api/v1/comparison-runs/{run['id']}/hits",
                         params={"reidentified": "true"}, headers=gw.headers("dora"))  # fmt: skip


def _releases_under(gw: DemoGateway, case_ref: str) -> list[dict[str, Any]]:
    return list_events(store=gw.services.audit.store,
                       filters=EventFilter(case_ref=case_ref, type="reidentification.released"),
                       limit=10)["items"]  # fmt: skip


def test_a_release_is_on_record_under_the_case_approved(deployment: DemoGateway) -> None:
    gw = deployment
    run = run_to_end(gw, "dora", "demo.payroll_on_dibao")
    assert run["status"] == "done" and run["hits"] >= 1, run
    _approved(gw, run, OPENED)
    released = _release(gw, run)
    assert released.status_code == 200, released.text
    found = _releases_under(gw, OPENED)
    assert found, "the release of the approved hits is not on record under the approved case"
    assert found[0]["details"]["run_case"]["case_ref"] == run["case_ref"], found[0]


def test_hits_approved_under_two_cases_are_each_on_record_under_their_own(
    deployment: DemoGateway,
) -> None:
    """One screening run opens a case per person: each released hit is on record under
    the case that approved it, and only there."""
    gw = deployment
    run = run_to_end(gw, "dora", "demo.payroll_on_dibao")
    assert run["hits"] >= 2, run
    _approved(gw, run, "JW-RT45-FIRST", hit=1)
    _approved(gw, run, "JW-RT45-SECOND", hit=2)
    released = _release(gw, run)
    assert released.status_code == 200, released.text
    first, second = _releases_under(gw, "JW-RT45-FIRST"), _releases_under(gw, "JW-RT45-SECOND")
    assert first and second, (first, second)
    assert first[0]["details"]["hit_ids"] == [1] and second[0]["details"]["hit_ids"] == [2]
    assert (first[0]["rows"], second[0]["rows"]) == (1, 1), (first[0], second[0])
