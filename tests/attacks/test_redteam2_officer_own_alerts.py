"""Red team 2, as a security officer (and an admin): closing the alert about oneself.

The alerts watch everyone, officers and admins included: five refusals within an hour
make a ``repeated_denials`` alert naming the actor. Whoever may acknowledge and resolve
alerts could acknowledge or resolve the very alert about their own conduct — the alert
leaves the open list and its push stops repeating, with no second person involved.
Another officer (or admin) must handle an alert whose actor is you; the refusal is on
record like any other.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.gateway.demo_app import DemoGateway


def _own_alert(gw: DemoGateway, subject: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        found = gw.client.get("/api/v1/audit/alerts", headers=gw.headers("sam")).json()
        mine = [a for a in found["alerts"]
                if a.get("rule") == "repeated_denials" and a.get("actor") == subject]  # fmt: skip
        if mine:
            return mine[0]
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


@pytest.mark.parametrize("subject", ["sam", "root"])
def test_no_one_closes_the_alert_about_themselves(deployment: DemoGateway, subject: str) -> None:
    gw = deployment
    h = gw.headers(subject)
    for _ in range(6):  # refused: an officer never queries, an admin never edits their own account
        if subject == "sam":
            answer = gw.query("sam", "civil.dibao_recipients", {"fields": ["name"]})
        else:
            answer = gw.client.put("/api/v1/admin/users/root", headers=h, json={
                "display_name": "Root", "clearance": "L4", "jurisdiction": [""]})  # fmt: skip
        assert answer.status_code == 403
    alert = _own_alert(gw, subject)
    for move in ("acknowledge", "resolve"):
        answer = gw.client.post(f"/api/v1/audit/alerts/{alert['id']}/{move}", headers=h,
                                json={"note": "nothing to see"})  # fmt: skip
        assert answer.status_code == 403, (move, answer.status_code, answer.text)
    other = "root" if subject == "sam" else "sam"
    done = gw.client.post(f"/api/v1/audit/alerts/{alert['id']}/acknowledge",
                          headers=gw.headers(other), json={"note": "looking"})  # fmt: skip
    assert done.status_code == 200, done.text
