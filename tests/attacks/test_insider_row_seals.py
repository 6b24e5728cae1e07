"""A database insider gives themselves access by writing the rows that govern it.

THREAT_MODEL's insider row ("INSERT INTO casbin_rule / edit users behind the gateway",
open, high for this adversary): whoever can write the catalog database — a DBA, a
restored backup, a replica's leaked credentials — wrote one role line or one ``UPDATE
users`` and the next request was governed by it, with nothing on the trail. Every
attack below passed before row seals (``catalog.row_seals``, migration 0017): the
analyst became an admin, a low-clearance account read L3 fields in clear, a made-up
account queried. Now a row without a gateway's seal governs nothing, an account whose
row was edited is refused (403 ``account_unsealed``, on record) until an admin saves
it again through the gateway, and the admin's save is what restores it.

Left open (THREAT_MODEL): writing back a row exactly as it was before a change made
through the gateway, with the seal it had then (a replay).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from audit.search import EventFilter, list_events
from catalog.models import User
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-SEAL"}
USERS = "/api/v1/admin/users"


def _refusals(gw: DemoGateway) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="request.refused"), limit=50,
                       order="desc")  # fmt: skip
    return list(page["items"])


def _listed(gw: DemoGateway, subject: str) -> dict[str, Any]:
    users = gw.client.get(USERS, headers=gw.headers("root")).json()
    return dict(next(u for u in users if u["subject"] == subject))


def _resave(gw: DemoGateway, subject: str, attributes: dict[str, Any]) -> None:
    """An admin saves the account through the gateway (sealed, on the trail)."""
    body = {k: attributes[k] for k in ("display_name", "department", "clearance", "jurisdiction")}
    resp = gw.client.put(f"{USERS}/{subject}", headers=gw.headers("root"),
                         json={**body, "status": "active"})  # fmt: skip
    assert resp.status_code == 200, resp.text


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    yield deployment
    deployment.sql("DELETE FROM casbin_rule WHERE seal IS NULL")
    deployment.sql("DELETE FROM users WHERE subject = 'mallory'")


def test_a_role_line_inserted_behind_the_gateway_grants_nothing(gw: DemoGateway) -> None:
    token_headers = gw.headers("arthur")  # an analyst
    assert gw.client.get(USERS, headers=token_headers).status_code == 403
    gw.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('g', 'arthur', 'role:admin', '*')")
    assert gw.client.get(USERS, headers=token_headers).status_code == 403
    listed = gw.client.get(USERS, headers=gw.headers("root")).json()
    arthur = next(u for u in listed if u["subject"] == "arthur")
    assert "admin" not in {r["role"] if isinstance(r, dict) else r for r in arthur["roles"]}


def test_a_role_line_moved_to_another_subject_grants_nothing(gw: DemoGateway) -> None:
    """A sealed line edited (root's admin line copied onto the analyst): the seal covers
    the subject, so the copy verifies for nobody."""
    gw.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5, seal) "
           "SELECT ptype, 'arthur', v1, v2, v3, v4, v5, seal FROM casbin_rule "
           "WHERE ptype = 'g' AND v0 = 'root' AND v1 = 'role:admin'")  # fmt: skip
    try:
        assert gw.client.get(USERS, headers=gw.headers("arthur")).status_code == 403
    finally:
        gw.sql("DELETE FROM casbin_rule WHERE v0 = 'arthur' AND v1 = 'role:admin'")


def test_a_clearance_raised_behind_the_gateway_refuses_the_account(gw: DemoGateway) -> None:
    """arthur is L2: an insider makes him L4 in every county. Before seals he read what
    L4 reads; now his account is refused until an admin saves it again."""
    headers = gw.headers("arthur")
    attributes = _listed(gw, "arthur")
    wanted = {"fields": ["id_number", "name"], "limit": 1, **CASE}
    baseline = gw.query("arthur", DIBAO, wanted)
    before = len(_refusals(gw))
    gw.sql("UPDATE users SET clearance = 'L4', jurisdiction = '[\"\"]' WHERE subject = 'arthur'")
    try:
        resp = gw.query("arthur", DIBAO, wanted)
        assert resp.status_code == 403, resp.text
        assert resp.json()["code"] == "account_unsealed"
        assert gw.client.get("/api/v1/access-requests", headers=headers).status_code == 403
        refused = _refusals(gw)
        assert len(refused) > before
        assert refused[0]["actor"]["sub"] == "arthur"
        assert refused[0]["details"]["code"] == "account_unsealed"
    finally:
        _resave(gw, "arthur", attributes)
    # the admin's save through the gateway restores the account as it was
    again = gw.query("arthur", DIBAO, wanted)
    assert again.status_code == baseline.status_code
    assert again.json().get("code") == baseline.json().get("code")


def test_a_suspension_lifted_behind_the_gateway_stays_in_force(gw: DemoGateway) -> None:
    officer = gw.headers("sam")
    resp = gw.client.post("/api/v1/users/arthur/suspend", headers=officer,
                          json={"reason": "insider test"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    gw.sql("UPDATE users SET status = 'active' WHERE subject = 'arthur'")
    try:
        resp = gw.query("arthur", DIBAO, {"fields": ["name"], "limit": 1, **CASE})
        assert resp.status_code == 403, resp.text
    finally:
        gw.sql("UPDATE users SET status = 'suspended' WHERE subject = 'arthur'")
        resp = gw.client.post("/api/v1/users/arthur/unsuspend", headers=gw.headers("root"),
                              json={"reason": "insider test over"})  # fmt: skip
        assert resp.status_code == 200, resp.text


def test_an_account_inserted_behind_the_gateway_is_refused(gw: DemoGateway) -> None:
    gw.sql("INSERT INTO users (subject, display_name, department, clearance, jurisdiction, "
           "roles, status) VALUES ('mallory', 'Mallory', 'civil', 'L4', '[\"\"]', '[]', "
           "'active')")  # fmt: skip
    gw.sql(
        "INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('g', 'mallory', 'role:analyst', '*')"
    )
    with gw.services.sessions() as session:  # a token as ``sluice token`` would mint it
        assert session.get(User, "mallory") is not None
    resp = gw.query("mallory", DIBAO, {"fields": ["name"], "limit": 1, **CASE})
    assert resp.status_code == 403, resp.text
    assert resp.json()["code"] == "account_unsealed"


def test_rows_from_before_seals_are_adopted_once_on_record(gw: DemoGateway) -> None:
    """An upgraded deployment: every row without a seal and no adoption yet. The next
    start seals them and says so on the trail; an insider's row written after that
    adoption is not adopted by a later start."""
    from gateway.wiring.row_seals import adopt_unsealed_rows, install_row_seals

    settings = gw.settings
    gw.sql("UPDATE users SET seal = NULL")
    gw.sql("UPDATE casbin_rule SET seal = NULL")
    gw.sql("DELETE FROM row_seal_adoption")
    assert gw.query("alice", DIBAO, {"fields": ["name"], "limit": 1, **CASE}).status_code == 403
    seals = install_row_seals(settings.resolved_database_url, settings.home)
    counts = adopt_unsealed_rows(gw.services.engine, seals, gw.services.audit)
    assert counts["users"] >= 6 and counts["rules"] > 0
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="catalog.rows_sealed"), limit=5)  # fmt: skip
    assert [e["details"] for e in page["items"]][-1] == counts
    gw.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('g', 'arthur', 'role:admin', '*')")
    assert adopt_unsealed_rows(gw.services.engine, seals, gw.services.audit) == {}
    with gw.services.engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM casbin_rule WHERE seal IS NULL")).scalar()
    assert left == 1
    resp = gw.query("alice", DIBAO, {"fields": ["name"], "limit": 1, **CASE})
    assert resp.status_code == 200, resp.text
    assert gw.client.get(USERS, headers=gw.headers("arthur")).status_code == 403


def test_an_inserted_admin_line_does_not_make_the_last_admin_suspendable(gw: DemoGateway) -> None:
    """The last-admin rule counts holders: a line an insider inserts (arthur, an active
    account, "admin") must not count, or the officer could suspend the real last admin."""
    gw.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('g', 'arthur', 'role:admin', '*')")
    resp = gw.client.post("/api/v1/users/root/suspend", headers=gw.headers("sam"),
                          json={"reason": "insider test"})  # fmt: skip
    try:
        assert resp.status_code == 409, resp.text
    finally:
        if resp.status_code == 200:
            gw.edit_user("root", status="active", suspended_by=None, suspended_reason=None,
                         suspended_at=None)  # fmt: skip
