"""A database insider makes a role impossible to revoke by copying its line.

carl holds admin (given through the gateway: a sealed line). The insider copies that
line, seal and all: ``INSERT INTO casbin_rule (...) SELECT ... WHERE v0 = 'carl' AND
v1 = 'role:admin'`` — nothing new is granted, and the copy verifies (the seal covers the
line's values, not its id). casbin assumes no two lines are equal: removing one from
its model answers "removed" only if no equal line is left, and the database is told
only then. So the admin's revocation (``DELETE /api/v1/admin/users/carl/roles/admin/*``)
answered 200, put the removal on the trail, and deleted nothing — carl stayed an
admin, in memory and in the table, for good. The sealed lines are now handed to casbin
once each (``SealedAdapter.load_policy``), so a removal removes every copy.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from tests.gateway.demo_app import DemoGateway

USERS = "/api/v1/admin/users"


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    yield deployment
    deployment.sql("DELETE FROM casbin_rule WHERE v0 = 'carl' AND v1 = 'role:admin'")
    deployment.sql("UPDATE casbin_revision SET revision = revision + 1 WHERE id = 1")


def test_a_copied_role_line_does_not_survive_its_revocation(gw: DemoGateway) -> None:
    root = gw.headers("root")
    resp = gw.client.post(f"{USERS}/carl/roles", headers=root,
                          json={"role": "admin", "domain": "*"})  # fmt: skip
    assert resp.status_code in (200, 201), resp.text
    gw.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5, seal) "
           "SELECT ptype, v0, v1, v2, v3, v4, v5, seal FROM casbin_rule "
           "WHERE v0 = 'carl' AND v1 = 'role:admin'")  # fmt: skip
    resp = gw.client.delete(f"{USERS}/carl/roles/admin/*", headers=root)
    assert resp.status_code == 200, resp.text
    assert "admin" not in {r["role"] for r in resp.json()["roles"]}
    assert gw.client.get(USERS, headers=gw.headers("carl")).status_code == 403
    with gw.services.engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM casbin_rule WHERE v0 = 'carl' "
                                 "AND v1 = 'role:admin'")).scalar()  # fmt: skip
    assert left == 0
