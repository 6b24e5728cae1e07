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

from tests.attacks.reidentify_steps import approved, releases_under
from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

OPENED = "JW-RT45-OPENED"


def _release(gw: DemoGateway, run: dict[str, Any]) -> Any:
    return gw.client.get(f"/api/v1/comparison-runs/{run['id']}/hits",
                         params={"reidentified": "true"}, headers=gw.headers("dora"))  # fmt: skip


def test_a_release_is_on_record_under_the_case_approved(deployment: DemoGateway) -> None:
    gw = deployment
    run = run_to_end(gw, "dora", "demo.payroll_on_dibao")
    assert run["status"] == "done" and run["hits"] >= 1, run
    approved(gw, run["id"], [1], OPENED)
    released = _release(gw, run)
    assert released.status_code == 200, released.text
    found = releases_under(gw, OPENED)
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
    approved(gw, run["id"], [1], "JW-RT45-FIRST")
    approved(gw, run["id"], [2], "JW-RT45-SECOND")
    released = _release(gw, run)
    assert released.status_code == 200, released.text
    first, second = releases_under(gw, "JW-RT45-FIRST"), releases_under(gw, "JW-RT45-SECOND")
    assert first and second, (first, second)
    assert first[0]["details"]["hit_ids"] == [1] and second[0]["details"]["hit_ids"] == [2]
    assert (first[0]["rows"], second[0]["rows"]) == (1, 1), (first[0], second[0])
