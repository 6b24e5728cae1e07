"""Issue 11, class 5: identity changes govern the very next request; role names are not
subjects.

The attacker here is a user whose standing was lowered by an admin (clearance,
jurisdiction, suspension) but who still holds a token valid for days, and an admin (or
an operator with SQL) creating a user whose subject spells a role name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-ID"}
L3_FIELDS = {"id_number", "name", "phone", "address"}
USERS = "/api/v1/admin/users"


def _attributes(gw: DemoGateway, subject: str) -> dict[str, Any]:
    users = gw.client.get(USERS, headers=gw.headers("root")).json()
    return dict(next(u for u in users if u["subject"] == subject))


def _put(gw: DemoGateway, subject: str, **changes: Any) -> Any:
    body = {"display_name": subject, "clearance": "L1", "jurisdiction": [], **changes}
    return gw.client.put(f"{USERS}/{subject}", headers=gw.headers("root"), json=body)


@pytest.fixture
def restore(deployment: DemoGateway) -> Iterator[Callable[[str], None]]:
    """``restore(subject)`` before changing a user: put back afterwards (the deployment
    is shared by the module)."""
    saved: dict[str, dict[str, Any]] = {}

    def remember(subject: str) -> None:
        saved[subject] = _attributes(deployment, subject)

    yield remember
    for subject, before in saved.items():
        resp = _put(deployment, subject, display_name=before["display_name"],
                    department=before["department"], clearance=before["clearance"],
                    jurisdiction=before["jurisdiction"], status="active")  # fmt: skip
        assert resp.status_code == 200, resp.text


def _query(gw: DemoGateway, token: str, body: dict[str, Any]) -> Any:
    return gw.client.post(f"/api/v1/datasets/{DIBAO}/query", json=body,
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip


def test_clearance_downgrade_governs_the_next_request(
    deployment: DemoGateway, restore: Callable[[str], None]
) -> None:
    gw = deployment
    token = gw.token("alice", ttl=7 * 24 * 3600)  # issued before the downgrade
    before = _query(gw, token, {"limit": 5, **CASE})
    assert before.status_code == 200, before.text
    assert {c["name"] for c in orjson.loads(before.content)["columns"]} & L3_FIELDS
    restore("alice")
    done = _put(gw, "alice", display_name="Alice", clearance="L2", jurisdiction=["430121"])
    assert done.status_code == 200, done.text
    after = _query(gw, token, {"limit": 5, **CASE})
    assert after.status_code == 200, after.text
    assert not {c["name"] for c in orjson.loads(after.content)["columns"]} & L3_FIELDS
    # naming an L3 field with the old token is now refused
    assert _query(gw, token, {"fields": ["phone"], **CASE}).status_code == 403
    me = gw.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["clearance"] == "L2"


def test_jurisdiction_narrowing_governs_the_next_request(
    deployment: DemoGateway, restore: Callable[[str], None]
) -> None:
    gw = deployment
    token = gw.token("dora", ttl=7 * 24 * 3600)
    body = {"fields": ["region_code"], "limit": 2000, **CASE}
    wide = {r["region_code"][:6] for r in orjson.loads(_query(gw, token, body).content)["rows"]}
    assert len(wide) > 1, "dora sees every county before"
    restore("dora")
    done = _put(gw, "dora", display_name="Dora", clearance="L3", jurisdiction=["430121"])
    assert done.status_code == 200, done.text
    resp = _query(gw, token, body)
    assert resp.status_code == 200, resp.text
    rows = orjson.loads(resp.content)["rows"]
    assert rows and all(r["region_code"].startswith("430121") for r in rows)


def test_disabled_user_is_refused_on_the_next_request(
    deployment: DemoGateway, restore: Callable[[str], None]
) -> None:
    gw = deployment
    token = gw.token("arthur", ttl=7 * 24 * 3600)
    auth = {"Authorization": f"Bearer {token}"}
    assert _query(gw, token, {"limit": 1, **CASE}).status_code == 200
    restore("arthur")
    done = _put(gw, "arthur", display_name="Arthur", clearance="L2", jurisdiction=[""],
                status="disabled")  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "disabled"
    refused = _query(gw, token, {"limit": 1, **CASE})
    assert refused.status_code in (401, 403), refused.text
    assert gw.client.get("/api/v1/me", headers=auth).status_code in (401, 403)
    # re-enabled: the same token works again (the store decides, not the token)
    _put(gw, "arthur", display_name="Arthur", clearance="L2", jurisdiction=[""],
         status="active")  # fmt: skip
    assert _query(gw, token, {"limit": 1, **CASE}).status_code == 200


def test_an_edit_behind_the_gateways_back_governs_the_next_request(
    deployment: DemoGateway, restore: Callable[[str], None]
) -> None:
    """An operator's SQL edit of the users table is seen at once (generation trigger),
    and since row seals (0017) it refuses the account outright: the edit carries no
    gateway's seal, so even a downgrade is not taken as the account's standing."""
    gw = deployment
    token = gw.token("alice", ttl=3600)
    assert _query(gw, token, {"fields": ["phone"], "limit": 1, **CASE}).status_code == 200
    restore("alice")  # an admin's save through the gateway seals the row again
    gw.sql("UPDATE users SET clearance = 'L2' WHERE subject = 'alice'")
    resp = _query(gw, token, {"fields": ["phone"], "limit": 1, **CASE})
    assert resp.status_code == 403
    assert resp.json()["code"] == "account_unsealed"


@pytest.mark.parametrize(
    "subject", ["admin", "Security_Officer", "ANALYST", "steward", "role:admin", "*"]
)
def test_admin_cannot_create_a_user_named_like_a_role(
    deployment: DemoGateway, subject: str
) -> None:
    gw = deployment
    resp = _put(gw, subject, display_name="sneaky", clearance="L4", jurisdiction=[""])
    assert resp.status_code in (400, 422), resp.text
    listed = {u["subject"] for u in gw.client.get(USERS, headers=gw.headers("root")).json()}
    assert subject not in listed


def test_a_subject_named_like_a_role_holds_no_role(deployment: DemoGateway) -> None:
    """Even a user row written by hand, with a valid token, gets nothing from its name."""
    gw = deployment
    gw.sql("INSERT INTO users (subject, display_name, clearance, jurisdiction, roles) "
           "VALUES ('admin', 'by hand', 'L4', '[\"\"]', '[]')")  # fmt: skip
    try:
        headers = gw.headers("admin")
        assert gw.client.get(USERS, headers=headers).status_code in (401, 403)
        resp = gw.query("admin", DIBAO, {"limit": 1, **CASE})
        assert resp.status_code in (401, 403), resp.text
    finally:
        gw.sql("DELETE FROM users WHERE subject = 'admin'")
