"""Red team 15: a routine write seals the values it loaded, not the ones it checked.

Since 3364fda a write that does not restate a user row seals it only if the row *as
stored at the flush* verifies; but the seal is computed over the values the request
*loaded*. The database insider makes the two differ: UPDATE users SET clearance = 'L4',
jurisdiction = '[""]' for arthur; an admin gives arthur a role (the request loads the
tampered row); while it waits on casbin's write (a lock the insider holds on
casbin_rule, here the moment the assignment is made) the insider writes arthur's own
values back, so the stored row verifies again; the flush then sealed L4 and every
county, and the insider wrote them once more: arthur, an L2 analyst of a few counties,
read ID numbers everywhere, the trail showing a role change. Now a write that does not
restate a row also needs the values it loaded to verify under the seal it loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-RT15-RACE"}
USERS = "/api/v1/admin/users"
TAMPER = "UPDATE users SET clearance = 'L4', jurisdiction = '[\"\"]' WHERE subject = 'arthur'"


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    before = deployment.listed_user("arthur")
    yield deployment
    deployment.restore_user(before)
    deployment.sql("DELETE FROM casbin_rule WHERE v0 = 'arthur' AND v1 = 'role:steward'")
    deployment.sql("UPDATE casbin_revision SET revision = revision + 1 WHERE id = 1")


def test_a_row_restored_while_a_role_is_given_does_not_seal_the_loaded_values(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gw.services.engine.connect() as conn:
        clearance, jurisdiction = conn.execute(text(
            "SELECT clearance, CAST(jurisdiction AS TEXT) FROM users WHERE subject = 'arthur'"
        )).one()  # fmt: skip
    as_json = "CAST(:j AS JSON)" if gw.services.engine.dialect.name == "postgresql" else ":j"
    assert clearance != "L4"
    gw.sql(TAMPER)
    authorizer = gw.services.authorizer
    real_assign = authorizer.assign

    def assign_while_the_insider_restores(**kwargs: Any) -> Any:
        gw.sql(f"UPDATE users SET clearance = :c, jurisdiction = {as_json} "
               "WHERE subject = 'arthur'", c=clearance, j=jurisdiction)  # fmt: skip
        return real_assign(**kwargs)

    monkeypatch.setattr(authorizer, "assign", assign_while_the_insider_restores)
    resp = gw.client.post(f"{USERS}/arthur/roles", headers=gw.headers("root"),
                          json={"role": "steward", "domain": "civil"})  # fmt: skip
    assert resp.status_code in (200, 201), resp.text
    monkeypatch.undo()
    gw.sql(TAMPER)
    resp = gw.query("arthur", DIBAO, {"fields": ["id_number", "name"], "limit": 1, **CASE})
    assert resp.status_code == 403, resp.text
    assert resp.json()["code"] == "account_unsealed"
