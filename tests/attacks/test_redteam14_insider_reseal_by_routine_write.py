"""A database insider's edit of a user row is sealed by the next routine write to it.

An ``UPDATE users SET clearance = 'L4', jurisdiction = '[""]'`` makes the row fail its
seal, so the account is refused (``account_unsealed``) "until an admin saves it through
the gateway". But the seal was computed by the ORM's ``before_update`` over whatever the
row held at *any* write: an admin giving arthur a role (``users.roles`` is written too),
setting his ID number, an officer's suspension lifted by an admin — none of which says
anything about his clearance. Before the fix each of them sealed the insider's L4 and
every county, and arthur, an L2 analyst of a few counties, read what L4 reads
everywhere, the trail showing only a role change.

Now a write seals the row only if the stored row verified, or if it restates every
governing value itself (the admin's ``PUT /api/v1/admin/users/{subject}`` with a
status; without one, 409 says so): a routine write to a row changed behind the gateway
leaves it unsealed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-RESEAL"}
USERS = "/api/v1/admin/users"


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    before = deployment.listed_user("arthur")
    yield deployment
    deployment.restore_user(before)
    deployment.sql("DELETE FROM casbin_rule WHERE v0 = 'arthur' AND v1 = 'role:steward'")
    deployment.sql("UPDATE casbin_revision SET revision = revision + 1 WHERE id = 1")


def _tamper(gw: DemoGateway) -> None:
    gw.sql("UPDATE users SET clearance = 'L4', jurisdiction = '[\"\"]' WHERE subject = 'arthur'")
    resp = gw.query("arthur", DIBAO, {"fields": ["name"], "limit": 1, **CASE})
    assert resp.status_code == 403 and resp.json()["code"] == "account_unsealed", resp.text


def _still_refused(gw: DemoGateway) -> None:
    resp = gw.query("arthur", DIBAO, {"fields": ["id_number", "name"], "limit": 1, **CASE})
    assert resp.status_code == 403, resp.text
    assert resp.json()["code"] == "account_unsealed"


def test_a_role_given_through_the_gateway_does_not_seal_the_insiders_clearance(
    gw: DemoGateway,
) -> None:
    _tamper(gw)
    resp = gw.client.post(f"{USERS}/arthur/roles", headers=gw.headers("root"),
                          json={"role": "steward", "domain": "civil"})  # fmt: skip
    assert resp.status_code in (200, 201), resp.text
    _still_refused(gw)


def test_an_id_number_set_through_the_gateway_does_not_seal_it_either(gw: DemoGateway) -> None:
    _tamper(gw)
    resp = gw.client.put(f"{USERS}/arthur/id-number", headers=gw.headers("root"),
                         json={"id_number": "11010519491231002X"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    _still_refused(gw)


def test_the_admins_whole_save_restores_the_account(gw: DemoGateway) -> None:
    """The way back stays: a PUT with every governing value (and a status) seals
    what the admin sent, not what the insider wrote."""
    attributes = gw.listed_user("arthur")
    _tamper(gw)
    body = {k: attributes[k] for k in ("display_name", "department", "jurisdiction")}
    resp = gw.client.put(f"{USERS}/arthur", headers=gw.headers("root"),
                         json={**body, "clearance": "L2", "status": "active"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    resp = gw.query("arthur", DIBAO, {"fields": ["name"], "limit": 1, **CASE})
    assert resp.json().get("code") != "account_unsealed", resp.text


def test_a_save_that_keeps_the_status_is_refused_with_a_reason(gw: DemoGateway) -> None:
    """The stored status is the insider's as much as the clearance (a suspension lifted
    behind the gateway): a save without one says so rather than leaving the account
    silently refused."""
    attributes = gw.listed_user("arthur")
    _tamper(gw)
    body = {k: attributes[k] for k in ("display_name", "department", "jurisdiction")}
    resp = gw.client.put(f"{USERS}/arthur", headers=gw.headers("root"),
                         json={**body, "clearance": "L2"})  # fmt: skip
    assert resp.status_code == 409, resp.text
    _still_refused(gw)


def test_the_whole_save_does_not_seal_the_insiders_id_number_token(gw: DemoGateway) -> None:
    """The save sends no ID number: the row's token (an insider's NULL, or another
    person's, to keep the own-records alert quiet) is not sealed as arthur's."""
    attributes = gw.listed_user("arthur")
    gw.sql("UPDATE users SET id_number_hash = 'tk_0123456789abcdef' WHERE subject = 'arthur'")
    body = {k: attributes[k] for k in ("display_name", "department", "clearance",
                                       "jurisdiction")}  # fmt: skip
    resp = gw.client.put(f"{USERS}/arthur", headers=gw.headers("root"),
                         json={**body, "status": "active"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.json()["has_id_number"] is False
    assert resp.json()["sealed"] is True
