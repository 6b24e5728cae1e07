"""Red team 2, as a database insider: a password of their choosing on root's account.

``local_passwords`` held bare argon2id hashes, so anyone who can write the catalog could
put the hash of a password they know on root's row — a fresh one, or a copy of their
own account's row — and sign in to the console as root, every later action on record
as root's. Each row is now sealed with an HMAC under the console key over the subject,
who set it and the hash; a row that does not carry its seal signs nobody in, and the
attempt is on record (``auth.sign_in_failed``, reason ``tampered``).
"""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from audit.search import EventFilter, list_events
from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.gateway.demo_app import DemoGateway

_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
KNOWN = "the-insider-knows-this-1"


def _sign_in(gw: DemoGateway, subject: str, password: str) -> int:
    client = TestClient(gw.client.app, follow_redirects=False)
    nonce = _FIELD.search(client.get("/console/sign-in").text)
    assert nonce is not None
    answer = client.post("/console/sign-in", data={
        "csrf_token": nonce.group(1), "username": subject, "password": password})  # fmt: skip
    return answer.status_code


@pytest.fixture(scope="module")
def passwords(deployment: DemoGateway) -> dict[str, str]:
    console: Console = deployment.client.app.state.console
    chosen = set_demo_passwords(console.accounts, ["root", "alice"])
    assert _sign_in(deployment, "alice", chosen["alice"]) == 303
    return chosen


def test_a_fresh_hash_on_roots_row_signs_nobody_in(
    deployment: DemoGateway, passwords: dict[str, str]
) -> None:
    deployment.sql("UPDATE local_passwords SET password_hash = :h, set_by = 'cli:ops' "
                   "WHERE subject = 'root'", h=PasswordHasher().hash(KNOWN))  # fmt: skip
    assert _sign_in(deployment, "root", KNOWN) != 303, "the insider signed in as root"
    page = list_events(store=deployment.services.audit.store,
                       filters=EventFilter(type="auth.sign_in_failed"), limit=20,
                       order="desc")  # fmt: skip
    assert any(e["actor"]["sub"] == "root" and e["details"].get("reason") == "tampered"
               for e in page["items"])  # fmt: skip


def test_a_copy_of_the_insiders_own_row_signs_nobody_in(
    deployment: DemoGateway, passwords: dict[str, str]
) -> None:
    deployment.sql("UPDATE local_passwords SET password_hash = (SELECT password_hash FROM "
                   "local_passwords WHERE subject = 'alice'), set_by = (SELECT set_by FROM "
                   "local_passwords WHERE subject = 'alice') WHERE subject = 'root'")  # fmt: skip
    assert _sign_in(deployment, "root", passwords["alice"]) != 303, "alice signed in as root"
