"""A console session for an attack test: a password set for the user, signed in through
the sign-in form, and the page's CSRF token for the forms it posts."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.gateway.demo_app import DemoGateway

_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def console_sign_in(gw: DemoGateway, subject: str) -> tuple[TestClient, str]:
    """A client signed in as ``subject`` (redirects not followed) and its CSRF token."""
    console: Console = gw.client.app.state.console
    password = set_demo_passwords(console.accounts, [subject])[subject]
    client = TestClient(gw.client.app, follow_redirects=False)
    nonce = _FIELD.search(client.get("/console/sign-in").text)
    assert nonce is not None
    answer = client.post("/console/sign-in", data={
        "csrf_token": nonce.group(1), "username": subject, "password": password})  # fmt: skip
    assert answer.status_code == 303, answer.text[:300]
    csrf = _META.search(client.get("/console").text)
    assert csrf is not None
    return client, csrf.group(1)
