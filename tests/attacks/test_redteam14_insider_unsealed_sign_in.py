"""The console's sign-in for an account whose row was changed behind the gateway.

After an insider's ``UPDATE users`` the directory refuses the account
(``account_unsealed``). The sign-in asks the directory before the password, and caught
only ``account_disabled`` and ``unauthenticated`` there: ``account_unsealed`` escaped as
an error answer of its own (403, JSON) for any password, so an anonymous client told a
tampered account from every other name (401) and its attempts were neither verified
nor counted towards the lock. It is now one more reason the password is checked,
counted and answered as a wrong one, the true reason on the trail, as a suspension is
(red team 10's password oracle).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from audit.search import EventFilter, list_events
from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.attacks.console_sign_in import post_sign_in
from tests.gateway.demo_app import DemoGateway

_NONCE = re.compile(r'name="csrf_token" value="([^"]+)"')
_VALUES = re.compile(r'value="[^"]*"')
USERS = "/api/v1/admin/users"
WRONG = "not-the-password-1"


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    before = deployment.listed_user("arthur")
    yield deployment
    deployment.restore_user(before)


def _try(gw: DemoGateway, subject: str, password: str) -> tuple[int, str]:
    resp, _client = post_sign_in(gw, subject, password)
    return resp.status_code, _VALUES.sub('value=""', resp.text)


def test_a_tampered_account_answers_as_a_wrong_password(gw: DemoGateway) -> None:
    console: Console = gw.client.app.state.console
    chosen = set_demo_passwords(console.accounts, ["arthur"])
    gw.sql("UPDATE users SET clearance = 'L4' WHERE subject = 'arthur'")
    nobody = _try(gw, "no-such-person", WRONG)
    wrong = _try(gw, "arthur", WRONG)
    right = _try(gw, "arthur", chosen["arthur"])
    assert nobody[0] == 401
    assert wrong == nobody
    assert right == wrong
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="auth.sign_in_failed"), limit=5,
                       order="desc")  # fmt: skip
    assert page["items"][0]["actor"]["sub"] == "arthur"
    assert "account_unsealed" in str(page["items"][0]["details"])
