"""Red team 2, as a database insider: a console session row re-pointed at another user.

``console_sessions`` keeps the SHA-256 of each session id and the subject it signs in.
The cookie named only the id, so an insider who can write the catalog (the runtime
role does, and so does a superuser) could turn their own session into root's with one
``UPDATE console_sessions SET subject = 'root'`` — and every action after it would be on
record as root's. The cookie now carries the subject under the console key's HMAC, and
a row whose subject is not the cookie's signs no one in.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.gateway.demo_app import DemoGateway

_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def _signed_in(gw: DemoGateway, subject: str) -> TestClient:
    console: Console = gw.client.app.state.console
    password = set_demo_passwords(console.accounts, [subject])[subject]
    client = TestClient(gw.client.app, follow_redirects=False)
    nonce = _FIELD.search(client.get("/console/sign-in").text)
    assert nonce is not None
    answer = client.post("/console/sign-in", data={
        "csrf_token": nonce.group(1), "username": subject, "password": password})  # fmt: skip
    assert answer.status_code == 303
    return client


def test_a_session_row_re_pointed_at_root_signs_nobody_in(deployment: DemoGateway) -> None:
    alice = _signed_in(deployment, "alice")
    assert alice.get("/console").status_code == 200
    assert alice.get("/console/admin").status_code == 403
    deployment.sql("UPDATE console_sessions SET subject = 'root' WHERE subject = 'alice'")
    page = alice.get("/console/admin")
    assert page.status_code != 200, "alice's session became root's"
    assert page.status_code == 303 and "/console/sign-in" in page.headers["location"]
