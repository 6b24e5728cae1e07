"""Red team 36, as an analyst: pull your own record past the first thousand people.

Rule: a user's own ID number is known to the gateway as its subject token (an admin's
``PUT /api/v1/admin/users/{subject}/id-number``), and a read that returns the user's
own record says so on the trail (``self_hash_hit``), which opens the own-records alert
(high severity): nobody looks themselves up unseen.

Attack (red team 13's open row): the check compared the user's token with the tokens
recorded for the read, the first 1,000 people only (``subjects.MAX_TOKENS``). An L3
query returns up to 10,000 rows: dora reads 3,000 rows of the dibao roll, her own
record after the first thousand, and the trail says ``self_hash_hit: false``.

Expected: the user's own token is compared with every row the read returned, past the
cap too (the rows past it hashed only for a user whose own ID number is recorded). On
the embedded SQLite default and on PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.redteam36 import (
    DIBAO,
    dibao_ids_body,
    dibao_number,
    query_completed,
    set_own_id_number,
)
from tests.gateway.demo_app import DemoGateway

BODY = dibao_ids_body("JW-RT36-OWN", 3000)


def test_an_own_record_past_the_first_thousand_is_flagged(deployment: DemoGateway) -> None:
    gw = deployment
    own = dibao_number(gw, 2000)  # her row is the 2,001st she reads
    set_own_id_number(gw, "dora", own)
    resp = gw.query("dora", DIBAO, BODY)
    assert resp.status_code == 200, resp.text[:300]
    assert resp.json()["row_count"] == 3000, resp.json()["row_count"]
    assert own[:6] + "********" + own[-4:] in {r["id_number"] for r in resp.json()["rows"]}
    details = query_completed(gw, resp.headers["X-Request-Id"])["details"]
    subjects = gw.client.app.state.broker.subjects  # type: ignore[attr-defined]
    assert subjects.token(own) not in details["subject_tokens"]  # past the recorded list
    assert details["self_hash_hit"] is True, details.get("self_hash_hit")
