"""Red team 27, as an analyst without any grant: a row count of an L4 entry.

An aggregate query releases what it groups on and what it aggregates (docs/policies.md,
rule 16), and the approvals an L4 (restricted) entry needs were asked for those fields
only (rule 10). ``count(*)`` with no grouping names no field, so dora — who holds no
grant for ``civil.death_registrations``, made L4 by its steward — was answered 200 with
the entry's row count in her jurisdiction: a restricted entry used without any steward
having approved it.

Rule: an L4 entry is used only by permission. Any query of it — aggregates included,
even one that names no field — by an analyst without an approved grant for that entry
is refused 403 ``approval_required_l4_dataset``, with the access-request offer the
other L4 refusals give (``approval_fields``: for a count of rows, the entry's region
field, which the jurisdiction's row filter reads). Fixed in the policy
(``policies/rego/decision.rego``, ``entry_granted``); the offer is one dora can act on:
once two stewards approve it, the count is served.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.attacks.redteam27 import DS, approved_by_both, l4_with_two_stewards, ok, revoke
from tests.gateway.demo_app import DemoGateway

CASE = {"purpose": "supervision", "case_ref": "JW-RT27-COUNT"}
COUNT_ROWS = {**CASE, "aggregates": [{"fn": "count", "as": "n"}]}


@pytest.fixture(scope="module")
def restricted(deployment: DemoGateway) -> Iterator[DemoGateway]:
    """``civil.death_registrations`` at L4, a second steward of civil (cora), and no
    grant for dora."""
    with l4_with_two_stewards(deployment) as gw:
        yield gw


def _needs_approval(resp: Any) -> list[str]:
    """The 403 of an L4 entry used without a grant; the fields it offers to ask for."""
    assert resp.status_code == 403, resp.text
    details = resp.json()["details"]
    codes = {r["code"] for r in details["reason_codes"]}
    assert "approval_required_l4_dataset" in codes, details
    assert details.get("requires_approval") is True, details
    assert details.get("how_to_ask"), details
    assert details.get("approval_fields"), details
    return list(details["approval_fields"])


def test_a_row_count_of_an_l4_entry_needs_a_grant(restricted: DemoGateway) -> None:
    resp = restricted.query("dora", DS, COUNT_ROWS)
    assert _needs_approval(resp) == ["region_code"]


def test_a_count_of_a_field_of_an_l4_entry_needs_a_grant(restricted: DemoGateway) -> None:
    body = {**CASE, "aggregates": [{"fn": "count", "field": "region_code", "as": "n"}]}
    assert "region_code" in _needs_approval(restricted.query("dora", DS, body))


def test_the_offer_is_one_the_analyst_can_act_on(restricted: DemoGateway) -> None:
    """Dora asks for what the refusal offered; once two stewards of civil approve it,
    the count is served (and a grouping on the granted field too)."""
    gw = restricted
    offered = _needs_approval(gw.query("dora", DS, COUNT_ROWS))
    why = "how many deaths were registered"
    asked = approved_by_both(gw, {"fields": offered, "days": 3, "justification": why, **CASE})
    try:
        rows = ok(gw.query("dora", DS, COUNT_ROWS))["rows"]
        assert len(rows) == 1 and rows[0]["n"] > 0, rows
        grouped = {**COUNT_ROWS, "group_by": ["region_code"]}
        assert gw.query("dora", DS, grouped).status_code == 200
    finally:
        revoke(gw, asked)
    _needs_approval(gw.query("dora", DS, COUNT_ROWS))  # revoked: refused again
