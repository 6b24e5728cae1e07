"""Red team 8, as an admin: change someone's roles while the audit trail takes nothing.

Rule: every change an admin makes is an audit event written before the change commits
(fail closed, ``gateway/web/routes/users.py``): when the trail cannot take the event, the
change does not happen.

Attack: the trail is sealed (evidence of tampering: nothing can be appended until an
officer and an admin unseal it). root gives alice finance's steward role and takes
arthur's analyst role away. Each request answered 503 — yet casbin had already committed
the change in a transaction of its own before the event was tried: alice could approve
finance's access requests and arthur was locked out, with no ``role.assigned`` /
``role.unassigned`` ever on the trail. The same when the audit store is down.

Expected: 503, and the roles as they were.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.demo_app import DemoGateway


def _roles(gw: DemoGateway, subject: str) -> set[tuple[str, str]]:
    gw.services.authorizer.sync(-1)  # type: ignore[attr-defined]
    return set(gw.services.authorizer.roles_of(subject))


@pytest.fixture()
def sealed(deployment: DemoGateway) -> Iterator[DemoGateway]:
    seal = deployment.services.audit.seal
    seal.seal("red team 8: role change while sealed", {"test": True})  # once per module
    assert seal.sealed
    yield deployment


def test_a_role_given_while_sealed_is_not_given(sealed: DemoGateway) -> None:
    gw = sealed
    before = _roles(gw, "alice")
    resp = gw.client.post("/api/v1/admin/users/alice/roles",
                          json={"role": "steward", "domain": "finance"},
                          headers=gw.headers("root"))  # fmt: skip
    assert resp.status_code == 503, resp.text
    assert _roles(gw, "alice") == before
    assert not gw.services.authorizer.allowed(subject="alice", domain="finance",
                                              action="access:approve")  # fmt: skip


def test_a_role_taken_while_sealed_is_not_taken(sealed: DemoGateway) -> None:
    gw = sealed
    before = _roles(gw, "arthur")
    assert ("analyst", "*") in before
    resp = gw.client.delete("/api/v1/admin/users/arthur/roles/analyst/*",
                            headers=gw.headers("root"))  # fmt: skip
    assert resp.status_code == 503, resp.text
    assert _roles(gw, "arthur") == before
