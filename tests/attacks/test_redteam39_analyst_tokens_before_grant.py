"""Red team 39, as an analyst: tokens read before a grant are decoded by it.

Rule (stop 34, ``plan.granted_field_key``): a field some grant of the caller's releases
in clear is masked for them, outside the grant's case, with tokens of its own, so that
the grant is no codebook of a case's ``hash`` tokens — every field masked with ``hash``
under a case shares that case's key (finance's ID numbers too). The comparison's other
order (comparison first, grant after) is refused at the approval
(``compared_keys``).

Attack: the plain query's other order. Both departments mask ID numbers with ``hash``.
Before asking for anything, dora reads the dibao roll under a case — the numbers as the
case's tokens, beside the roll's clear fields — and finance's payroll under it. Then
she asks civil for the roll's ``id_number`` for another case, is granted it, and reads
the roll in clear there: row by row, her earlier tokens are decoded, and so is every
payroll number of the same person — finance's masked ID numbers in clear, with no
comparison and no finance steward's approval.

Expected: a grant is not approved for a field its requester already read as case
tokens (``hash``, ``id_number_fpe``) — 409 naming the field (not the case: the
approving steward reads no trail), the request left pending — or the earlier tokens
decode nothing. On the embedded default and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from tests.attacks.test_redteam37_analyst_date_shift_codebook import DIBAO, _ok
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _rows
from tests.attacks.test_stop34_analyst_grant_token_codebook import hash_both, payroll_decoded
from tests.gateway.demo_app import DemoGateway

EARLIER_CASE = "JW-RT39-EARLIER"
GRANT_CASE = "JW-RT39-LATER"


def tokens_read_then_asked(
    gw: DemoGateway, earlier: str, grant_case: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Both departments mask ID numbers with ``hash``; dora reads the roll's numbers as
    case ``earlier``'s tokens, then asks civil for them in clear under ``grant_case``:
    the rows she read and her request."""
    hash_both(gw)
    masked = _rows(gw, "dora", DIBAO, [*ROW, "id_number"], earlier, "supervision")
    assert all(r["id_number"].startswith("tk_") for r in masked)
    asked = _ok(gw.client.post("/api/v1/access-requests", headers=gw.headers("dora"), json={
        "dataset": DIBAO, "fields": ["id_number"], "purpose": "supervision",
        "case_ref": grant_case, "justification": "the roll's records", "days": 7}))  # fmt: skip
    return masked, asked


def test_tokens_read_before_a_grant_are_not_decoded_by_it(deployment: DemoGateway) -> None:
    gw = deployment
    masked, asked = tokens_read_then_asked(gw, EARLIER_CASE, GRANT_CASE)
    approved = gw.client.post(f"/api/v1/access-requests/{asked['id']}/approve",
                              headers=gw.headers("carl"), json={})  # fmt: skip
    if approved.status_code == 409:
        message = approved.json()["message"]
        assert "id_number" in message and EARLIER_CASE not in message, message
        state = gw.client.get(f"/api/v1/access-requests/{asked['id']}", headers=gw.headers("carl"))
        assert _ok(state)["status"] == "pending"
        return
    clear = _rows(gw, "dora", DIBAO, [*ROW, "id_number"], GRANT_CASE, "supervision")
    decoded, payroll = payroll_decoded(gw, clear, EARLIER_CASE, masked)
    assert not decoded, (
        f"{len(decoded)} of finance's {len(payroll)} masked ID numbers read in clear: "
        "tokens read before the grant, decoded by it"
    )
