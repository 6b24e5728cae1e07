"""Red team 40's hidden event, on the comparison side (``compared_keys``).

Red team 38's rule: a grant is not approved for a key its requester matched in an
earlier comparison with a key masked to them (``comparison.started`` on the trail). An
insider of the audit database (the append-only triggers off) sets ``actor_sub`` of
arthur's ``comparison.started`` to another name before civil approves his request for
the roll's ``start_date``: the search by that column found no comparison of his, and
the grant would hand him finance's true payment dates through his matches (his
comparison's sides, ``query.started`` events that ``read_tokens`` refuses on, hidden
likewise).

Expected: refused as red team 38's approval is (409, the field named): the check reads
the index of the verified chain (``gateway.stewardship.grants.trail_facts``), fed with
the bodies whatever their columns say. A module of its own (red team 38's comparison is
refused once a grant of the other order exists). On the embedded default and PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.test_redteam38_analyst_grant_after_comparison import compared_then_asked
from tests.attacks.test_redteam40_insider_hidden_trail_event import _hidden_as
from tests.gateway.demo_app import DemoGateway


def test_an_edited_actor_column_does_not_hide_a_comparison(deployment: DemoGateway) -> None:
    gw = deployment
    asked = compared_then_asked(gw)
    # his comparison's sides are reads too (``read_tokens`` refuses on them): both hidden
    with _hidden_as(gw, "arthur", ["comparison.started", "query.started"]):
        refused = gw.client.post(f"/api/v1/access-requests/{asked}/approve",
                                 headers=gw.headers("carl"), json={})  # fmt: skip
    assert refused.status_code == 409, refused.text[:300]
    message = refused.json()["message"]
    assert "civil.dibao_recipients.start_date" in message, message
    assert "in an earlier comparison" in message, message  # compared_keys' refusal
