"""A password an admin sets in the console is one ``user.updated`` event on the trail:
set_password's, which carries the sealed row's digest sign-in checks against, and names
the admin (department and roles) and the console. The page used to append an event of
its own beside it, so each reset left two."""

from __future__ import annotations

import re
from typing import Any

from audit.search import EventFilter, list_events
from tests.gateway.web.console.conftest import LiveConsole

_PRE_NONCE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _password_events(live: LiveConsole, subject: str) -> list[dict[str, Any]]:
    filters = EventFilter(resource=f"user:{subject}", type="user.updated")
    items = list_events(store=live.gw.services.audit.store, filters=filters, limit=200)["items"]
    return [e for e in items if "password" in e["details"]]


def _sign_in_status(live: LiveConsole, subject: str, password: str) -> int:
    with live.client() as client:
        nonce = _PRE_NONCE.search(client.get("/console/sign-in").text)
        assert nonce is not None
        answer = client.post("/console/sign-in", data={
            "csrf_token": nonce.group(1), "username": subject, "password": password})  # fmt: skip
        return answer.status_code


def test_a_console_reset_is_one_event_and_signs_in_with_the_new_password_only(
    live: LiveConsole,
) -> None:
    root, csrf = live.sign_in("root")
    user = {"csrf_token": csrf, "display_name": "Pia", "clearance": "L2", "jurisdiction": "*"}
    made = root.post("/console/admin/users/pia", data=user)
    assert made.status_code == 303
    first, second = "pia-first-password-1", "pia-second-password-2"
    for password in (first, second):
        before = len(_password_events(live, "pia"))
        done = root.post("/console/admin/users/pia/password", data={
            "csrf_token": csrf, "password": password, "confirm": password})  # fmt: skip
        assert done.status_code == 303, done.text[:300]
        events = _password_events(live, "pia")
        assert len(events) == before + 1, [e["details"] for e in events]
    root.close()
    newest = events[0]
    assert newest["details"].keys() == {"password", "digest", "console"}
    assert newest["details"]["password"] == "set" and newest["details"]["console"] is True
    assert len(newest["details"]["digest"]) == 64
    assert newest["actor"]["sub"] == "root" and "admin" in newest["actor"]["roles"]
    assert first not in str(events) and second not in str(events)
    assert _sign_in_status(live, "pia", first) == 401
    assert _sign_in_status(live, "pia", second) == 303
