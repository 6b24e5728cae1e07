"""Anonymous: a password oracle for a suspended or disabled account on the console's
sign-in. A wrong password answered "wrong user name or password" (401); the right one
answered "this account is disabled or suspended" (403) — so anyone could try passwords
of an account an officer had just suspended (its holder under review, perhaps the one
who knows it leaked) and learn which is right, to try elsewhere or keep for the day it
is lifted. The right password also reset the failure count, which told it apart again
through the lock (right, then ``max_failures - 1`` wrong ones: no lock). Now a suspended
or disabled account answers exactly as a wrong password does — same status, same page,
a hash verified on both paths, counted towards the lock alike — and the trail keeps the
true reason (``account_disabled``)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from audit.search import EventFilter, list_events
from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.gateway.demo_app import DemoGateway, demo_gateway

_NONCE = re.compile(r'name="csrf_token" value="([^"]+)"')
_VALUES = re.compile(r'value="[^"]*"')
WRONG = "not-the-password-1"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    with demo_gateway(tmp_path_factory.mktemp("suspended-oracle")) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def passwords(gw: DemoGateway) -> dict[str, str]:
    console: Console = gw.client.app.state.console
    chosen = set_demo_passwords(console.accounts, ["alice", "arthur", "dora", "carl"])
    officer, admin = gw.headers("sam"), gw.headers("root")
    for subject in ("alice", "arthur", "dora"):
        resp = gw.client.post(f"/api/v1/users/{subject}/suspend", headers=officer,
                              json={"reason": "bulk pull under review"})  # fmt: skip
        assert resp.status_code == 200, resp.text
    carl = {"display_name": "Carl", "department": "civil", "clearance": "L3",
            "jurisdiction": [""], "status": "disabled"}  # fmt: skip
    resp = gw.client.put("/api/v1/admin/users/carl", headers=admin, json=carl)
    assert resp.status_code == 200, resp.text
    return chosen


def _try(gw: DemoGateway, subject: str, password: str) -> tuple[int, str]:
    """The answer's status and its page with every form value blanked (the nonce, the
    name echoed back): what tells one answer from another."""
    client = TestClient(gw.client.app, follow_redirects=False)
    nonce = _NONCE.search(client.get("/console/sign-in").text)
    assert nonce is not None
    resp = client.post("/console/sign-in", data={
        "csrf_token": nonce.group(1), "username": subject, "password": password})  # fmt: skip
    return resp.status_code, _VALUES.sub('value=""', resp.text)


def _limit(gw: DemoGateway) -> int:
    console: Console = gw.client.app.state.console
    return console.settings.max_failures


@pytest.mark.parametrize("subject", ["alice", "carl"])  # suspended by an officer; disabled
def test_the_right_password_answers_as_a_wrong_one(
    gw: DemoGateway, passwords: dict[str, str], subject: str
) -> None:
    wrong = _try(gw, subject, WRONG)
    right = _try(gw, subject, passwords[subject])
    assert wrong[0] == 401
    assert right == wrong, f"the right password answers {right[0]}, a wrong one {wrong[0]}"


def test_the_right_password_counts_towards_the_lock_as_a_wrong_one(
    gw: DemoGateway, passwords: dict[str, str]
) -> None:
    """arthur gets only wrong passwords, dora her right one first: the same answers,
    the last of them "locked"."""
    tries = _limit(gw)
    wrong_only = [_try(gw, "arthur", WRONG) for _ in range(tries)]
    right_first = [_try(gw, "dora", passwords["dora"])]
    right_first += [_try(gw, "dora", WRONG) for _ in range(tries - 1)]
    assert [a[0] for a in right_first] == [a[0] for a in wrong_only]
    assert right_first == wrong_only
    assert wrong_only[-1][0] == 403


def test_the_trail_keeps_the_true_reason(gw: DemoGateway, passwords: dict[str, str]) -> None:
    assert _try(gw, "alice", passwords["alice"])[0] in (401, 403)
    reasons: set[str] = set()
    for _ in range(40):
        items = list_events(store=gw.services.audit.store,
                            filters=EventFilter(actor="alice", type="auth.sign_in_failed"),
                            limit=100)["items"]  # fmt: skip
        reasons = {e["details"]["reason"] for e in items}
        if "account_disabled" in reasons:
            break
        time.sleep(0.05)
    assert "account_disabled" in reasons, reasons
