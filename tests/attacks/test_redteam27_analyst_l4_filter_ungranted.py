"""Red team 27, as an analyst: an L4 entry's ungranted fields read through filters and
sorting.

An L4 (restricted) entry "needs a grant covering every field it would release"
(docs/policies.md, rule 10): two stewards of its department approve each field an
analyst may read. Dora asks for ``region_code`` of ``civil.death_registrations`` (made
L4 by its steward) and two of civil's stewards approve exactly that. The policy then
checked approval only for the fields the query *returns*: dora filtered and sorted on
``death_date`` — a field nobody approved — and was answered 200, so each row's date
of death could be read by bisection (``between`` halved until one row is left) or
ranked by ``order_by``, without the two approvals the field needs.

Rule broken: what a request *uses* — its filters, its order, its grouping — is read
as surely as what it returns (ATTACKS.md "what the policy sees"). Fixed in the policy
(``policies/rego/decision.rego``, ``pending``): every field a request references needs
the approvals its release would.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.attacks.redteam27 import DS, approved_by_both, l4_with_two_stewards, revoke
from tests.gateway.demo_app import DemoGateway

CASE = {"purpose": "supervision", "case_ref": "JW-RT27-L4"}


@pytest.fixture(scope="module")
def granted_region(deployment: DemoGateway) -> Iterator[DemoGateway]:
    """``civil.death_registrations`` at L4, and dora's grant for ``region_code`` only,
    approved by carl and by a second steward of civil."""
    with l4_with_two_stewards(deployment) as gw:
        why = "counties of deaths only"
        asked = approved_by_both(
            gw, {"fields": ["region_code"], "days": 3, "justification": why, **CASE}
        )
        try:
            yield gw
        finally:
            revoke(gw, asked)


def _refused_for(resp: Any, field: str) -> None:
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert field in body["details"].get("approval_fields", []), body


def test_the_granted_field_alone_is_served(granted_region: DemoGateway) -> None:
    gw = granted_region
    resp = gw.query("dora", DS, {**CASE, "fields": ["region_code"], "limit": 3})
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize(
    "shape",
    [
        {"where": [{"field": "death_date", "op": "between",
                    "value": ["2024-01-01", "2024-06-30"]}]},
        {"where": [{"field": "death_date", "op": "is_null", "value": False}]},
        {"order_by": ["-death_date"]},
    ],
    ids=["between", "is_null", "order_by"],
)  # fmt: skip
def test_an_ungranted_field_of_an_l4_entry_is_not_read_through_the_query(
    granted_region: DemoGateway, shape: dict[str, Any]
) -> None:
    gw = granted_region
    resp = gw.query("dora", DS, {**CASE, "fields": ["region_code"], "limit": 3, **shape})
    _refused_for(resp, "death_date")
