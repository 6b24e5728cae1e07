"""Red team 10, as an admin: an account no API path can name.

Rule: every account can be acted on through the API — an officer suspends, freezes
grants, looks its doings up; an admin changes it (``/api/v1/users/{subject}/…``,
``/api/v1/admin/users/{subject}…``). Names that cannot be told apart are refused when
an account is made (``check_new_subject``).

Attack: the console's new-user form and ``sluice users add`` took any name without
hidden characters, so root made ``ev/il`` an account (303) and gave it the analyst
role. A path parameter never holds a ``/`` (``ev%2Fil`` is decoded before routing), so
every API call naming it is a 404: sam's ``POST /api/v1/users/ev%2Fil/suspend`` and
``…/revoke-grants`` reach no route, nor does an admin's change of its roles — the
account can read data while the officers' API cannot stop it.

Expected: a new account's name holds no ``/`` (400, on record); nothing is created.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.gateway.demo_app import DemoGateway

_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _root_console(gw: DemoGateway) -> tuple[TestClient, str]:
    console: Console = gw.client.app.state.console
    password = set_demo_passwords(console.accounts, ["root"])["root"]
    client = TestClient(gw.client.app, follow_redirects=False)
    nonce = _FIELD.search(client.get("/console/sign-in").text)
    assert nonce is not None
    answer = client.post("/console/sign-in", data={
        "csrf_token": nonce.group(1), "username": "root", "password": password})  # fmt: skip
    assert answer.status_code == 303, answer.text[:300]
    csrf = _META.search(client.get("/console").text)
    assert csrf is not None
    return client, csrf.group(1)


def test_a_new_account_name_holds_no_slash(deployment: DemoGateway) -> None:
    gw = deployment
    client, csrf = _root_console(gw)
    made = client.post("/console/admin/users", data={
        "csrf_token": csrf, "subject": "ev/il", "display_name": "Evil", "clearance": "L3",
        "jurisdiction": "*"})  # fmt: skip
    listed = gw.client.get("/api/v1/admin/users", headers=gw.headers("root")).json()
    try:
        assert made.status_code == 400, (made.status_code, made.headers.get("location"))
        assert "ev/il" not in [u["subject"] for u in listed]
    finally:
        gw.sql("DELETE FROM users WHERE subject = 'ev/il'")
    # what such an account meant: no API path reaches it
    sam = gw.headers("sam")
    reason = {"reason": "incident"}
    assert gw.client.post("/api/v1/users/ev%2Fil/suspend", json=reason,
                          headers=sam).status_code == 404  # fmt: skip
