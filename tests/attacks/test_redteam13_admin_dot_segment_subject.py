"""Red team 13, as an admin: an account named ``..`` or ``.``, which the officers' API
paths do not reach as clients send them.

Red team 10 refused a ``/`` in a new account's name: a path parameter never holds one,
so ``ev/il`` could be made in the console and then no API call (an officer's suspend or
revoke-grants, an admin's role change) could name it. A name that *is* a dot segment is
its sibling: every HTTP client and proxy removes dot segments before sending
(RFC 3986, 5.2.4; httpx, curl, browsers, nginx normalising a URI), so sam's
``POST /api/v1/users/../suspend`` goes to ``/api/v1/suspend`` — a 404 — and only a
hand-escaped ``%2E%2E`` that nothing on the way normalises reaches the account. Root
made ``..`` an account through the console's new-user form (303).

Expected: a new account's name is not ``.`` or ``..`` (400); nothing is created.
"""

from __future__ import annotations

import pytest

from tests.attacks.test_redteam10_admin_subject_with_slash import _root_console
from tests.gateway.demo_app import DemoGateway


@pytest.mark.parametrize("name", ["..", "."])
def test_a_new_account_name_is_no_dot_segment(deployment: DemoGateway, name: str) -> None:
    gw = deployment
    client, csrf = _root_console(gw)
    made = client.post("/console/admin/users", data={
        "csrf_token": csrf, "subject": name, "display_name": "Dots", "clearance": "L3",
        "jurisdiction": "*"})  # fmt: skip
    listed = gw.client.get("/api/v1/admin/users", headers=gw.headers("root")).json()
    try:
        assert made.status_code == 400, (made.status_code, made.headers.get("location"))
        assert name not in [u["subject"] for u in listed]
    finally:
        gw.sql("DELETE FROM users WHERE subject = :s", s=name)
    # what such an account meant: the officer's call, as a client sends it, reaches no user
    sent = gw.client.post(f"/api/v1/users/{name}/suspend", json={"reason": "incident"},
                          headers=gw.headers("sam"))  # fmt: skip
    assert sent.status_code in (404, 405), sent.text
