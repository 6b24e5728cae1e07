"""Red team 36, as an analyst: pull your own record right after it was recorded.

Rule (DESIGN.md, "identity is read fresh"): a change to a user governs their very next
request. An admin records dora's own ID number (``PUT /api/v1/admin/users/dora/id-number``)
so that a read of her own record is flagged (``self_hash_hit``, the own-records alert).

Attack: the gateway kept each user's own token for a minute (``OWN_TOKEN_TTL_S``) and
the admin's change did not drop it (``SubjectTokens.forget`` was called by nothing):
dora, who had queried a moment before, read her own record right after root recorded
her number, and the trail said ``self_hash_hit: false``.

Expected: the process that records the number forgets the cached token at once (other
replicas re-read it within the minute: left, THREAT_MODEL.md). On the embedded SQLite
default and on PostgreSQL.
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

BODY = dibao_ids_body("JW-RT36-FRESH", 20)


def test_an_own_number_recorded_governs_the_next_query(deployment: DemoGateway) -> None:
    gw = deployment
    own = dibao_number(gw, 3)  # the 4th row dora reads
    before = gw.query("dora", DIBAO, BODY)
    assert before.status_code == 200, before.text[:300]
    assert query_completed(gw, before.headers["X-Request-Id"])["details"]["self_hash_hit"] is False
    set_own_id_number(gw, "dora", own)
    resp = gw.query("dora", DIBAO, BODY)
    assert resp.status_code == 200, resp.text[:300]
    details = query_completed(gw, resp.headers["X-Request-Id"])["details"]
    assert details["self_hash_hit"] is True, details.get("self_hash_hit")
