"""Red team as an admin, a security officer, a database insider and an anonymous client.

Each test is a finding reproduced through the HTTP API on both deployments (embedded
SQLite, PostgreSQL catalog and audit store).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.demo_app import DemoGateway

USERS = "/api/v1/admin/users"
DIBAO = "civil.dibao_recipients"


def _roles(gw: DemoGateway, subject: str) -> set[tuple[str, str]]:
    users = gw.client.get(USERS, headers=gw.headers("root")).json()
    user = next(u for u in users if u["subject"] == subject)
    return {(r["role"], r["domain"]) for r in user["roles"]}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"{USERS}/root/roles", {"role": "analyst"}),
        ("POST", f"{USERS}/root/roles", {"role": "steward", "domain": "civil"}),
        ("PUT", f"{USERS}/root",
         {"display_name": "Root", "clearance": "L4", "jurisdiction": ["43"]}),
        ("DELETE", f"{USERS}/root/roles/admin/*", None),
        ("PUT", f"{USERS}/root/id-number", {"id_number": "11010519491231002X"}),
    ],
)  # fmt: skip
def test_admin_cannot_change_their_own_account(
    deployment: DemoGateway, method: str, path: str, body: Any
) -> None:
    """An admin granting themselves analyst (or steward), clearance and jurisdiction read
    governed data (or approved access requests) with nobody else involved; removing
    their own admin role could leave the gateway without one. Another admin must."""
    gw = deployment
    before = _roles(gw, "root")
    resp = gw.client.request(method, path, headers=gw.headers("root"), json=body)
    assert resp.status_code == 403, resp.text
    assert _roles(gw, "root") == before
    me = gw.client.get("/api/v1/me", headers=gw.headers("root")).json()
    assert me["roles"] == ["admin"]
    assert me["clearance"] == "L1"
    refused = gw.query("root", DIBAO, {"purpose": "supervision", "case_ref": "JW-RT-1"})
    assert refused.status_code == 403, refused.text
