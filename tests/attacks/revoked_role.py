"""carl made an admin by root and the role taken away again, through the API: the
role line as it was while held (what the insider saved, seal included), for the
attacks that write it back."""

from __future__ import annotations

from typing import Any

from tests.attacks.test_insider_row_replay import USERS, _rows
from tests.gateway.demo_app import DemoGateway

ROLE_LINE = "SELECT * FROM casbin_rule WHERE v0 = 'carl' AND v1 = 'role:admin'"


def revoked_admin_line(gw: DemoGateway) -> dict[str, Any]:
    root = gw.headers("root")
    resp = gw.client.post(f"{USERS}/carl/roles", headers=root,
                          json={"role": "admin", "domain": "*"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    saved = _rows(gw, ROLE_LINE)[0]
    resp = gw.client.delete(f"{USERS}/carl/roles/admin/*", headers=root)
    assert resp.status_code == 200, resp.text
    assert gw.client.get(USERS, headers=gw.headers("carl")).status_code == 403
    return saved
