"""Red team 38's cross-case attack in the other order (stop 34): the comparison first,
the grant after.

Rule (``comparison.access.check_keys_alike``, red team 38's fix): a key some grant of
the caller's releases in clear, in any case, counts as clear, so it is never matched
with a key masked to them. A grant approved after the comparison escapes that check:
arthur compares the disbursements keyed on their shifted ``paid_date`` with the roll
keyed on its shifted ``start_date`` (alike: both shifted), keeps the matches, and then
asks civil for the roll's ``start_date`` in clear for a case. Approved, each match would
hand him a disbursement's true payment date, which no finance steward released.

Expected: the approval that would make the request a grant is refused (409, naming the
field, not the comparison's case or other entry:
``gateway.stewardship.grants.compared_keys``), the request stays pending, and a grant of
a field he never matched on is approved as before. On the embedded
default and PostgreSQL; a module of its own, since the other order's grant would refuse
this comparison.
"""

from __future__ import annotations

from tests.attacks.test_redteam37_analyst_date_shift_codebook import (
    DIBAO,
    FUNDS,
    GRANT_CASE,
    _ok,
    _shift,
)
from tests.attacks.test_redteam38_analyst_grant_across_cases import OTHER_CASE, ROW
from tests.gateway.demo_app import DemoGateway


def test_a_grant_asked_for_after_a_comparison_is_not_approved(deployment: DemoGateway) -> None:
    gw = deployment
    asked = compared_then_asked(gw)
    refused = gw.client.post(f"/api/v1/access-requests/{asked}/approve",
                             headers=gw.headers("carl"), json={})  # fmt: skip
    assert refused.status_code == 409, refused.text[:300]
    message = refused.json()["message"]
    assert "civil.dibao_recipients.start_date" in message
    # the steward who approves learns nothing of the analyst's case or other entries: a
    # case reference and the entries it touched say where an investigation is going
    assert OTHER_CASE not in message and "finance" not in message, message
    state = gw.client.get(f"/api/v1/access-requests/{asked}", headers=gw.headers("carl"))
    assert _ok(state)["status"] == "pending"
    other = _ask(gw, ["household_size"])
    _ok(gw.client.post(f"/api/v1/access-requests/{other}/approve", headers=gw.headers("carl"),
                       json={}))  # fmt: skip


def compared_then_asked(gw: DemoGateway) -> str:
    """arthur compares the disbursements and the roll on their shifted dates (matches
    found), then asks civil for the roll's ``start_date`` in clear: his request."""
    _shift(gw, "carl", DIBAO, "start_date")
    _shift(gw, "fiona", FUNDS, "paid_date")
    body = {
        "left": {"dataset": FUNDS, "key": "paid_date", "fields": ["disbursement_id"]},
        "right": {"dataset": DIBAO, "key": "start_date", "fields": ROW},
        "purpose": "audit", "case_ref": OTHER_CASE, "limit": 10_000,
    }  # fmt: skip
    compared = _ok(gw.compare("arthur", body))
    assert compared["rows"], "the comparison of keys masked alike matches"
    return _ask(gw, ["start_date"])


def _ask(gw: DemoGateway, fields: list[str]) -> str:
    asked = _ok(gw.client.post("/api/v1/access-requests", headers=gw.headers("arthur"), json={
        "dataset": DIBAO, "fields": fields, "purpose": "supervision",
        "case_ref": GRANT_CASE, "justification": "allowance start dates", "days": 7}))  # fmt: skip
    return str(asked["id"])
