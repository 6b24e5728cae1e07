"""Red team 60, as an analyst holding a grant one steward approved while its entry was
L3, against the two stewards an L4 entry needs (the policy's own count since red team
59): the entry raised to L4, used as a side of an ad hoc comparison rather than queried.

Each side of ``POST /api/v1/comparisons`` is a governed query with its own decision and
the same grants input; a comparison with the L4 entry as a side is refused as its query
is, until a second steward approves. On the embedded SQLite default and on PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.redteam27 import DS, REQUESTS, ok, revoke
from tests.attacks.test_redteam59_steward_l4_raised_while_pending import CASE, _entry_level
from tests.gateway.demo_app import DemoGateway

COMPARISON = {"left": {"dataset": "civil.dibao_recipients", "key": "id_number"},
              "right": {"dataset": DS, "key": "id_number"}, **CASE}  # fmt: skip


def _granted(gw: DemoGateway, dataset: str) -> str:
    """dora's grant of ``dataset``'s ``id_number``, approved by carl alone."""
    asked = ok(gw.client.post(REQUESTS, headers=gw.headers("dora"), json={
        "dataset": dataset, "fields": ["id_number"], "days": 7,
        "justification": "deaths against the roll", **CASE}))  # fmt: skip
    ok(gw.client.post(f"{REQUESTS}/{asked['id']}/approve", headers=gw.headers("carl")))
    return str(asked["id"])


def test_a_comparison_side_raised_to_l4_needs_two_stewards(deployment: DemoGateway) -> None:
    gw = deployment
    grants = [_granted(gw, COMPARISON["left"]["dataset"]), _granted(gw, DS)]
    try:
        before = gw.compare("dora", COMPARISON)
        assert before.status_code == 200, before.text[:300]  # L3, both keys granted
        _entry_level(gw, "L4")
        after = gw.compare("dora", COMPARISON)
        assert after.status_code == 403, after.text[:300]
    finally:
        _entry_level(gw, "L3")
        for grant in grants:
            revoke(gw, grant)
