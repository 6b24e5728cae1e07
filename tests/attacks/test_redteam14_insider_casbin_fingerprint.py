"""A database insider keeps a revoked role in force on a running gateway by putting
back what it looks at to notice a change.

``Authorizer`` reloads casbin's lines when (``casbin_revision``, row count, highest id)
differs from what it loaded. All three are the catalog database's, which the insider
writes. An admin takes carl's admin role away on another replica (or with ``sluice``
on a gateway host: another process); the insider then lowers the revision by one and
inserts a junk line under the deleted line's id. Every row that governs access is as the
admin left it (the junk line is unsealed: no assignment), yet this replica never
reloads: before the fix carl stayed an admin on it (200 on the user list) for as long
as it ran — no replayed row, nothing to find in the table.

The fingerprint now covers every line's id and seal: only the very lines it loaded
(a replay, THREAT_MODEL's open row) compare equal.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from policies.rbac import Authorizer
from tests.gateway.demo_app import DemoGateway

USERS = "/api/v1/admin/users"


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    yield deployment
    deployment.sql("DELETE FROM casbin_rule WHERE v0 = 'carl' AND v1 = 'role:admin'")
    deployment.sql("DELETE FROM casbin_rule WHERE seal IS NULL")
    deployment.sql("UPDATE casbin_revision SET revision = revision + 7 WHERE id = 1")


def test_a_revocation_elsewhere_is_not_hidden_by_a_restored_fingerprint(gw: DemoGateway) -> None:
    resp = gw.client.post(f"{USERS}/carl/roles", headers=gw.headers("root"),
                          json={"role": "admin", "domain": "*"})  # fmt: skip
    assert resp.status_code in (200, 201), resp.text
    carl = gw.headers("carl")
    assert gw.client.get(USERS, headers=carl).status_code == 200
    with gw.services.engine.connect() as conn:
        line = conn.execute(text("SELECT id FROM casbin_rule WHERE v0 = 'carl' "
                                 "AND v1 = 'role:admin'")).scalar_one()  # fmt: skip
    Authorizer(gw.services.engine).unassign(subject="carl", role="admin", domain="*")
    # the insider: the revision back by one, a junk line under the deleted line's id
    gw.sql("UPDATE casbin_revision SET revision = revision - 1 WHERE id = 1")
    gw.sql("INSERT INTO casbin_rule (id, ptype, v0, v1, v2) VALUES (:i, 'g', 'nobody', "
           "'role:analyst', '*')", i=line)  # fmt: skip
    assert gw.client.get(USERS, headers=carl).status_code == 403
