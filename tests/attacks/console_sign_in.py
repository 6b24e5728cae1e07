"""A console session for an attack test: the sign-in form posted as a browser would, and,
once signed in, the page's CSRF token for the forms it posts."""

from __future__ import annotations

import re
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from gateway.web.console.passwords import LocalAccounts, PasswordTrail, set_demo_passwords
from gateway.web.console.runtime import Console
from gateway.web.console.sessions import console_key
from gateway.web.console.store import console_sessions
from tests.gateway.demo_app import DemoGateway

_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def post_sign_in(gw: DemoGateway, subject: str, password: str) -> tuple[Response, TestClient]:
    """The sign-in form's answer for ``subject`` and ``password`` (redirects not
    followed), and the client that posted it (its cookies, if the answer signed in)."""
    client = TestClient(gw.client.app, follow_redirects=False)
    nonce = _FIELD.search(client.get("/console/sign-in").text)
    assert nonce is not None
    answer = client.post("/console/sign-in", data={
        "csrf_token": nonce.group(1), "username": subject, "password": password})  # fmt: skip
    return answer, client


def accounts_with_password(gw: DemoGateway, subject: str) -> tuple[LocalAccounts, str]:
    """The console's local accounts, ``subject`` given a fresh password: that password."""
    console: Console = gw.client.app.state.console  # type: ignore[attr-defined]
    return console.accounts, set_demo_passwords(console.accounts, [subject])[subject]


def page_csrf(client: TestClient) -> str | None:
    """The CSRF token the console's pages carry for a signed-in client, else None."""
    found = _META.search(client.get("/console").text)
    return found.group(1) if found else None


def console_sign_in(
    gw: DemoGateway, subject: str, password: str | None = None
) -> tuple[TestClient, str]:
    """A client signed in as ``subject`` (redirects not followed) and its CSRF token;
    without ``password``, a fresh one is set for the user first."""
    if password is None:
        console: Console = gw.client.app.state.console
        password = set_demo_passwords(console.accounts, [subject])[subject]
    answer, client = post_sign_in(gw, subject, password)
    assert answer.status_code == 303, answer.text[:300]
    csrf = page_csrf(client)
    assert csrf is not None
    return client, csrf


def accounts_at_old_cost(gw: DemoGateway) -> LocalAccounts:
    """The console's accounts as they were before an operator changed
    ``SLUICE_CONSOLE_ARGON2_*``: a password set through them is re-made at its next
    right sign-in."""
    return LocalAccounts(engine=gw.services.engine, key=console_key(gw.settings.home),
                         trail=PasswordTrail(gw.services.audit),
                         hasher=PasswordHasher(time_cost=2, memory_cost=1024))  # fmt: skip


def session_rows(gw: DemoGateway, subject: str) -> list[dict[str, Any]]:
    """``subject``'s console session rows as stored (what an insider of the catalog
    database copies, to write back after a reset deleted them)."""
    with gw.services.engine.connect() as conn:
        rows = conn.execute(select(console_sessions).where(console_sessions.c.subject == subject))
        return [dict(r._mapping) for r in rows]
