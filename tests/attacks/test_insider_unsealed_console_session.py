"""A console session of an account whose row is changed behind the gateway.

After an insider's ``UPDATE users`` the directory refuses the account
(``account_unsealed``). The console's guard ended the account's sessions on
``account_disabled`` only, so an open session outlived the tampering and came back to
life, unasked, once an admin restored the row: whoever held that cookie (the insider's
accomplice at the account holder's desk, say) was signed in again as a row of
uncertain history. Tampering now ends the sessions, as a suspension does, and the
page sends the browser to sign in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from audit.search import EventFilter, list_events
from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

_NONCE = re.compile(r'name="csrf_token" value="([^"]+)"')
USERS = "/api/v1/admin/users"
PAGE = "/console/catalog"


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    before = deployment.listed_user("arthur")
    yield deployment
    deployment.restore_user(before)


def _signed_in(gw: DemoGateway, subject: str = "arthur") -> TestClient:
    client = console_sign_in(gw, subject)[0]
    assert client.get(PAGE).status_code == 200
    return client


def test_tampering_ends_the_console_session(gw: DemoGateway) -> None:
    before = gw.listed_user("arthur")
    client = _signed_in(gw)
    gw.sql("UPDATE users SET clearance = 'L4' WHERE subject = 'arthur'")
    refused = client.get(PAGE)
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/console/sign-in")
    gw.restore_user(before)  # the admin saves the account again through the gateway
    after = client.get(PAGE)
    assert after.status_code == 303, "the session outlived the tampering"
    assert after.headers["location"].startswith("/console/sign-in")


def test_the_refusal_is_on_the_trail(gw: DemoGateway) -> None:
    client = _signed_in(gw)
    gw.sql("UPDATE users SET clearance = 'L4' WHERE subject = 'arthur'")
    assert client.get(PAGE).status_code == 303
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="request.refused"), limit=5,
                       order="desc")  # fmt: skip
    event = page["items"][0]
    assert event["actor"]["sub"] == "arthur"
    assert event["details"]["code"] == "account_unsealed"
    assert event["details"]["console"] is True


def test_the_admin_pages_show_a_tampered_account(gw: DemoGateway) -> None:
    """The restoring admin reads the console: the listing and the user's page must say
    the values shown are not the gateway's (the API's ``sealed: false``), or the save
    that restores the account seals the insider's values."""
    client = _signed_in(gw, "root")
    before = client.get("/console/admin/users/arthur").text
    assert 'id="admin-unsealed"' not in before
    gw.sql("UPDATE users SET clearance = 'L4' WHERE subject = 'arthur'")
    listing = client.get("/console/admin")
    row = next(r for r in listing.text.split("<tr>") if "/console/admin/users/arthur" in r)
    assert 'class="unsealed"' in row
    page = client.get("/console/admin/users/arthur").text
    assert 'id="admin-unsealed"' in page


def test_the_requests_page_shows_a_tampered_request(gw: DemoGateway) -> None:
    """The steward deciding alice's pending request reads the console: an insider's
    widening of it (more fields) is marked as grants nothing, not shown as alice's ask."""
    gw.sql("DELETE FROM access_requests WHERE requester = 'alice'")
    asked = gw.client.post("/api/v1/access-requests", headers=gw.headers("alice"), json={
        "dataset": "civil.dibao_recipients", "fields": ["phone"], "justification": "x",
        "days": 5, "purpose": "supervision", "case_ref": "JW-2026-UNSEALED"})  # fmt: skip
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    try:
        steward = _signed_in(gw, "carl")
        row = f'id="req-{request_id}"'
        page = steward.get("/console/requests").text
        assert row in page
        assert 'class="unsealed"' not in page.split(row, 1)[1].split("</article>", 1)[0]
        gw.sql("UPDATE access_requests SET fields = '[\"phone\", \"id_number\"]' "
               "WHERE id = :i", i=request_id)  # fmt: skip
        page = steward.get("/console/requests").text
        assert 'class="unsealed"' in page.split(row, 1)[1].split("</article>", 1)[0]
    finally:
        gw.sql("DELETE FROM access_requests WHERE requester = 'alice'")
