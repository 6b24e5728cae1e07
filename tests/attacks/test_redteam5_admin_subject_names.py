"""Red team 5, as an admin: user names the store cannot hold, and names that pass for
someone else's.

Rules: bad input is a 4xx with a message, never a 500, and the same on every
deployment; one person, one name — the trail and the console name who acted, so a name
that reads as another user's is a name collision (attack checklist: "Name collisions",
"Identity of a target … another spelling").

Attacks through ``PUT /api/v1/admin/users/{subject}``:

- a subject longer than the store's 128 characters: on PostgreSQL the commit failed
  after ``user.updated`` was on record — a 500 — while on SQLite the over-long user was
  created;
- ``dora`` spelled another way — ``Dora``, full-width ``ｄｏｒａ``, ``dora`` with a
  zero-width space or a trailing no-break space: each was created as a new account,
  which shows in the trail, in alerts and on the console as ``dora`` does, so what the
  admin's sock puppet does reads as dora's doing.
"""

from __future__ import annotations

import pytest

from audit.search import EventFilter, list_events
from tests.gateway.demo_app import DemoGateway

USERS = "/api/v1/admin/users"
BODY = {"display_name": "Dora", "clearance": "L2"}


def _users(gw: DemoGateway) -> set[str]:
    return {u["subject"] for u in gw.client.get(USERS, headers=gw.headers("root")).json()}


def test_an_over_long_subject_is_a_4xx_everywhere(deployment: DemoGateway) -> None:
    gw = deployment
    subject = "u" * 129
    resp = gw.client.put(f"{USERS}/{subject}", json=BODY, headers=gw.headers("root"))
    assert 400 <= resp.status_code < 500, resp.text
    assert subject not in _users(gw)
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="user.updated"), limit=50)  # fmt: skip
    assert all(e.get("resource") != f"user:{subject}" for e in page["items"]), (
        "a user.updated on record for an account that cannot exist"
    )
    # 128 characters still fit
    assert gw.client.put(f"{USERS}/{'u' * 128}", json=BODY,
                         headers=gw.headers("root")).status_code == 200  # fmt: skip


LOOK_ALIKES = [
    "Dora", "ＤＯＲＡ", "ｄｏｒａ", "do\u200bra", "dora\u00a0", "dora\u2028", "dora\u200e"
]  # fmt: skip


@pytest.mark.parametrize("look_alike", LOOK_ALIKES)
def test_no_new_account_passes_for_an_existing_one(
    deployment: DemoGateway, look_alike: str
) -> None:
    gw = deployment
    resp = gw.client.put(f"{USERS}/{look_alike}", json=BODY, headers=gw.headers("root"))
    assert resp.status_code == 400, (look_alike, resp.text)
    assert look_alike not in _users(gw)
    # the real account is still updated as before
    assert "dora" in _users(gw)
