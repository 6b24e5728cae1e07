"""Red team 8, as a database insider with the runtime role's credentials: rewrite what
the roles may do, not who holds them.

Rule: what each role may call is the policy file the gateway ships
(``policies/rbac_policy.csv``): no route, console page or command changes it. Who holds
a role lives in the catalog database (a known gap: an insider who adds a role
assignment there governs the next request).

Attack: the casbin ``p`` lines are copied into ``casbin_rule`` at start-up and read back
from there. One ``INSERT INTO casbin_rule (ptype, v0, v1, v2, v3) VALUES ('p',
'role:analyst', '*', 'audit:read', 'allow')`` — no role assigned to anyone, no ``users``
row touched, nothing an admin reviewing the role assignments would see — and every
analyst read the audit trail (200); ``…'users:manage'…`` made every analyst an admin.

Expected: the gateway takes what roles may do from its policy file only; a ``p`` line
written into the database governs nothing (403).
"""

from __future__ import annotations

import pytest

from tests.gateway.demo_app import DemoGateway

INSERT = ("INSERT INTO casbin_rule (ptype, v0, v1, v2, v3) "
          "VALUES ('p', 'role:analyst', '*', :act, 'allow')")  # fmt: skip


@pytest.mark.parametrize(("action", "path"), [
    ("audit:read", "/api/v1/audit/events"),
    ("users:manage", "/api/v1/admin/users"),
])  # fmt: skip
def test_a_policy_line_written_into_the_database_grants_nothing(
    deployment: DemoGateway, action: str, path: str
) -> None:
    gw = deployment
    alice = gw.headers("alice")
    assert gw.client.get(path, headers=alice).status_code == 403
    gw.sql(INSERT, act=action)
    gw.sql("UPDATE casbin_revision SET revision = revision + 1 WHERE id = 1")
    try:
        assert gw.client.get(path, headers=alice).status_code == 403
    finally:
        gw.sql("DELETE FROM casbin_rule WHERE ptype = 'p' AND v0 = 'role:analyst'"
               " AND v2 = :act", act=action)  # fmt: skip


def test_a_role_made_to_inherit_another_grants_nothing(deployment: DemoGateway) -> None:
    """The same through a ``g`` line between two roles: no user's assignment changes,
    yet every analyst would hold the admin role by inheritance. The gateway never writes
    one (a role is never a subject)."""
    gw = deployment
    alice = gw.headers("alice")
    gw.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2) "
           "VALUES ('g', 'role:analyst', 'role:admin', '*')")  # fmt: skip
    gw.sql("UPDATE casbin_revision SET revision = revision + 1 WHERE id = 1")
    try:
        assert gw.client.get("/api/v1/admin/users", headers=alice).status_code == 403
        assert gw.client.get("/api/v1/admin/users", headers=gw.headers("root")).status_code == 200
    finally:
        gw.sql("DELETE FROM casbin_rule WHERE ptype = 'g' AND v0 = 'role:analyst'")
