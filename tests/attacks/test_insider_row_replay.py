"""A database insider writes a governing row back *exactly as it was* before a change
made through the gateway, with the seal it had then (a replay).

THREAT_MODEL's open insider row after the row and grant seals (0017, 0018): a seal
says a gateway wrote the row's values, not that they are the current ones. Whoever can
write the catalog database kept a copy of a row, let an admin, an officer or a steward
change it through the gateway, and wrote the copy back:

- a role line revoked through the gateway (``DELETE``, then the old ``casbin_rule`` row
  ``INSERT``ed with its id and seal): the role was back;
- a user row from before a disable, a lowered clearance and narrowed jurisdiction, or a
  suspension: the account was served with its old values;
- an access request revoked (by its requester, or by an officer's emergency
  revocation) written back as it was while approved: it unmasked again until it
  expired; a request rejected, written back as it was while pending, could be approved.

Each passed before the fix (the role, the account and the grant governed again). Now
every change made through the gateway to such a row puts the digest of the row's new
state (or that a line was removed) on the trail (``catalog.row_bound``), and a sealed
row governs only while it is the newest the trail names for it
(``catalog.row_bindings``): the role line is not loaded, the account is refused
(``account_unsealed``, on record), the grant grants nothing, and the listings say
``sealed: false``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from tests.attacks.test_insider_grant_seals import CLEAR, MASKED, _ask, _phone
from tests.gateway.demo_app import DemoGateway

USERS = "/api/v1/admin/users"
REQUESTS = "/api/v1/access-requests"


def _rows(gw: DemoGateway, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows as the insider saves them (JSON columns as their text, as they write it)."""
    with gw.services.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text(sql), params)]
    return [{k: orjson.dumps(v).decode() if isinstance(v, (list, dict)) else v
             for k, v in row.items()} for row in rows]  # fmt: skip


def _write_back(gw: DemoGateway, table: str, row: dict[str, Any], key: str) -> None:
    """What the insider does: the saved row, as it was, in place of the current one."""
    gw.sql(f"DELETE FROM {table} WHERE {key} = :k", k=row[key])
    names = ", ".join(row)
    gw.sql(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in row)})", **row)


def _save(gw: DemoGateway, subject: str, attributes: dict[str, Any], **changes: Any) -> Any:
    body = {k: attributes[k] for k in ("display_name", "department", "clearance", "jurisdiction")}
    return gw.client.put(f"{USERS}/{subject}", headers=gw.headers("root"),
                         json={**body, "status": "active", **changes})  # fmt: skip


def _query(gw: DemoGateway, subject: str = "arthur") -> Any:
    """A request of the account's (its own requests): 200 while it is served."""
    return gw.client.get(REQUESTS, headers=gw.headers(subject))


# ------------------------------------------------------------------ role lines


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    before = deployment.listed_user("arthur")
    yield deployment
    # the account made an admin in the role-line tests: carl, a steward (an analyst is
    # never an admin: red team 63)
    deployment.sql("DELETE FROM casbin_rule WHERE v0 = 'carl' AND v1 = 'role:admin'")
    deployment.sql("UPDATE casbin_revision SET revision = revision + 1 WHERE id = 1")
    deployment.sql("UPDATE users SET status = 'active' WHERE subject = 'arthur'")
    resp = _save(deployment, "arthur", before)
    assert resp.status_code == 200, resp.text


def test_a_revoked_role_line_written_back_grants_nothing(gw: DemoGateway) -> None:
    root, carl = gw.headers("root"), gw.headers("carl")
    resp = gw.client.post(f"{USERS}/carl/roles", headers=root,
                          json={"role": "admin", "domain": "*"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    resp = gw.client.get(USERS, headers=carl)
    assert resp.status_code == 200, resp.text
    saved = _rows(gw, "SELECT * FROM casbin_rule WHERE v0 = 'carl' AND v1 = 'role:admin'")
    assert len(saved) == 1 and saved[0]["seal"]
    resp = gw.client.delete(f"{USERS}/carl/roles/admin/*", headers=root)
    assert resp.status_code == 200, resp.text
    assert gw.client.get(USERS, headers=carl).status_code == 403
    gw.sql("INSERT INTO casbin_rule (id, ptype, v0, v1, v2, v3, v4, v5, seal) VALUES "
           "(:id, :ptype, :v0, :v1, :v2, :v3, :v4, :v5, :seal)", **saved[0])  # fmt: skip
    assert gw.client.get(USERS, headers=carl).status_code == 403, "the revoked role is back"
    roles = {(r["role"], r["domain"]) for r in gw.listed_user("carl")["roles"]}
    assert ("admin", "*") not in roles
    # given again through the gateway, the very same line governs again
    resp = gw.client.post(f"{USERS}/carl/roles", headers=root,
                          json={"role": "admin", "domain": "*"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    resp = gw.client.get(USERS, headers=carl)
    assert resp.status_code == 200, resp.text


# ------------------------------------------------------------------ user rows

USER_ROW = "SELECT * FROM users WHERE subject = 'arthur'"


def _replayed(gw: DemoGateway, saved: dict[str, Any]) -> None:
    """The saved row written back; the account is refused, on record, and listed so."""
    gw.sql("UPDATE users SET department = :department, clearance = :clearance, "
           "jurisdiction = :jurisdiction, status = :status, id_number_hash = :id_number_hash, "
           "suspended_by = :suspended_by, suspended_reason = :suspended_reason, "
           "seal = :seal WHERE subject = :subject", **saved)  # fmt: skip
    resp = _query(gw)
    assert resp.status_code == 403, f"the replayed row governs again: {resp.status_code}"
    assert resp.json()["code"] == "account_unsealed", resp.text
    assert gw.listed_user("arthur")["sealed"] is False


def test_a_user_row_from_before_a_disable_written_back_is_refused(gw: DemoGateway) -> None:
    before = gw.listed_user("arthur")
    assert _query(gw).status_code == 200
    saved = _rows(gw, USER_ROW)[0]
    assert _save(gw, "arthur", before, status="disabled").status_code == 200
    assert _query(gw).json()["code"] == "account_disabled"
    _replayed(gw, saved)


def test_a_user_row_from_before_a_downgrade_written_back_is_refused(gw: DemoGateway) -> None:
    before = gw.listed_user("arthur")
    baseline = _query(gw)
    assert baseline.status_code == 200
    saved = _rows(gw, USER_ROW)[0]
    resp = _save(gw, "arthur", before, clearance="L1", jurisdiction=["99"])
    assert resp.status_code == 200, resp.text
    _replayed(gw, saved)
    # the admin's save through the gateway restores the account
    assert _save(gw, "arthur", before).status_code == 200
    resp = _query(gw)
    assert resp.status_code == 200, resp.text
    assert gw.listed_user("arthur")["sealed"] is True


def test_a_user_row_from_before_a_suspension_written_back_is_refused(gw: DemoGateway) -> None:
    saved = _rows(gw, USER_ROW)[0]
    resp = gw.client.post("/api/v1/users/arthur/suspend", headers=gw.headers("sam"),
                          json={"reason": "replay test"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    suspended = _rows(gw, USER_ROW)[0]
    _replayed(gw, saved)
    _write_back_user(gw, suspended)
    resp = gw.client.post("/api/v1/users/arthur/unsuspend", headers=gw.headers("root"),
                          json={"reason": "replay test over"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert _query(gw).status_code == 200


def _write_back_user(gw: DemoGateway, row: dict[str, Any]) -> None:
    gw.sql("UPDATE users SET status = :status, suspended_by = :suspended_by, "
           "suspended_reason = :suspended_reason, suspended_at = :suspended_at, seal = :seal "
           "WHERE subject = :subject", **row)  # fmt: skip


# ------------------------------------------------------------------ grants


@pytest.fixture
def grants(deployment: DemoGateway) -> Iterator[DemoGateway]:
    deployment.sql("DELETE FROM access_requests WHERE requester = 'alice'")
    assert _phone(deployment) == MASKED
    yield deployment
    deployment.sql("DELETE FROM access_requests WHERE requester = 'alice'")


def _approved(gw: DemoGateway) -> tuple[str, dict[str, Any]]:
    """An approved grant of alice's, and its row as the insider saves it."""
    request_id = _ask(gw)
    resp = gw.client.post(f"{REQUESTS}/{request_id}/approve", headers=gw.headers("carl"),
                          json={})  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert _phone(gw) == CLEAR
    return request_id, _rows(gw, "SELECT * FROM access_requests WHERE id = :i", i=request_id)[0]


def _listed_request(gw: DemoGateway, request_id: str) -> dict[str, Any]:
    resp = gw.client.get(f"{REQUESTS}/{request_id}", headers=gw.headers("alice"))
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _grant_replayed(gw: DemoGateway, saved: dict[str, Any]) -> None:
    assert _phone(gw) == MASKED
    _write_back(gw, "access_requests", saved, "id")
    assert _phone(gw) == MASKED, "the revoked grant unmasks again"
    listed = _listed_request(gw, saved["id"])
    assert listed["status"] == "approved" and listed["sealed"] is False


def test_a_grant_revoked_by_its_requester_written_back_grants_nothing(grants: DemoGateway) -> None:
    gw = grants
    request_id, saved = _approved(gw)
    resp = gw.client.post(f"{REQUESTS}/{request_id}/revoke", headers=gw.headers("alice"),
                          json={"reason": "done"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    _grant_replayed(gw, saved)


def test_a_grant_revoked_in_an_emergency_written_back_grants_nothing(grants: DemoGateway) -> None:
    gw = grants
    _request_id, saved = _approved(gw)
    resp = gw.client.post("/api/v1/users/alice/revoke-grants", headers=gw.headers("sam"),
                          json={"reason": "replay test"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    _grant_replayed(gw, saved)


def test_a_rejected_request_written_back_as_pending_is_not_approved(grants: DemoGateway) -> None:
    gw = grants
    request_id = _ask(gw)
    pending = _rows(gw, "SELECT * FROM access_requests WHERE id = :i", i=request_id)[0]
    resp = gw.client.post(f"{REQUESTS}/{request_id}/reject", headers=gw.headers("carl"),
                          json={"reason": "no"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    _write_back(gw, "access_requests", pending, "id")
    assert _listed_request(gw, request_id)["sealed"] is False
    resp = gw.client.post(f"{REQUESTS}/{request_id}/approve", headers=gw.headers("carl"),
                          json={})  # fmt: skip
    assert resp.status_code == 409, f"a rejected request was approved: {resp.text}"
    assert resp.json()["code"] == "request_unsealed"
    assert _phone(gw) == MASKED


# ------------------------------------------------------------------ a fresh process


def test_a_fresh_process_refuses_a_replay_on_first_use(gw: DemoGateway) -> None:
    """A process started after the replay (a restart, a replica scaled up) has nothing
    kept: it reads each row's newest binding on first use. Rows no change through the
    gateway ever bound (the demo's own, as after an upgrade) keep their seal's word."""
    from gateway.stewardship.row_trail import install_row_bindings
    from gateway.stewardship.users.directory import load_identity
    from policies.rbac import Authorizer

    root = gw.headers("root")
    resp = gw.client.post(f"{USERS}/carl/roles", headers=root,
                          json={"role": "admin", "domain": "*"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    saved = _rows(gw, "SELECT * FROM casbin_rule WHERE v0 = 'carl' AND v1 = 'role:admin'")[0]
    assert gw.client.delete(f"{USERS}/carl/roles/admin/*", headers=root).status_code == 200
    gw.sql("INSERT INTO casbin_rule (id, ptype, v0, v1, v2, v3, v4, v5, seal) VALUES "
           "(:id, :ptype, :v0, :v1, :v2, :v3, :v4, :v5, :seal)", **saved)  # fmt: skip
    install_row_bindings(gw.settings.resolved_database_url, gw.services.audit)  # nothing kept
    fresh = Authorizer(gw.services.engine)
    assert ("admin", "*") not in fresh.roles_of("carl")
    assert ("steward", "civil") in fresh.roles_of("carl")  # never bound: its seal's word
    with gw.services.engine.connect() as conn:
        stored = load_identity(conn, "carl")
    assert stored is not None and stored.status == "active"
    assert "admin" not in stored.context.roles and "steward" in stored.context.roles
