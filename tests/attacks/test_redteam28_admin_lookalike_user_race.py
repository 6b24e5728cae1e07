"""Red team 28, as an admin (two creations at once of names that read as one: ``zed``
and ``Zed``, or ``ｚｅｄ``; a double submit of a form retyped, or a second admin).

A new account's name may not read as an existing user's (``check_new_subject``: one
person, one name — the trail, the console and every alert show names, and an account
that reads as an officer's or another analyst's confuses who did what). The check reads
the users, then the row is added under *its own* key's write lock
(``row_trail._hold_new``): ``user:zed`` and ``user:Zed`` are two keys, so two creations
at once each found no look-alike and both were made, both ``ok`` on record.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.stewardship.users import service
from tests.attacks.test_redteam26_analyst_model_create_record import both_past, two_at_once
from tests.gateway.comparison_env import events
from tests.gateway.demo_app import DemoGateway

NAMES = ("quill", "Quill")
WIDE = ("mosk", "ｍｏｓｋ")  # a compatibility form: reads as the same name


@pytest.mark.parametrize("names", [NAMES, WIDE], ids=["case", "width"])
def test_two_look_alike_names_created_at_once_make_one_account(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch, names: tuple[str, str]
) -> None:
    gw = deployment
    both_past(monkeypatch, service, "check_new_subject")  # both start their check at once
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        body = {"display_name": "Quill", "department": "civil", "clearance": "L1",
                "jurisdiction": [""]}  # fmt: skip
        results[i] = gw.client.put(f"/api/v1/admin/users/{names[i]}", json=body,
                                   headers=gw.headers("root"))  # fmt: skip

    two_at_once(run)
    codes = sorted(r.status_code for r in results)
    assert codes[0] == 200 and codes[1] in (400, 409), [r.text for r in results]
    listed = gw.client.get("/api/v1/admin/users", headers=gw.headers("root")).json()
    key = service.name_key(names[0])
    alike = [u["subject"] for u in listed if service.name_key(u["subject"]) == key]
    assert len(alike) == 1, f"two accounts read as one name: {alike}"
    saved = [e for e in events(gw, types=("user.updated",))
             if service.name_key(e["resource"].removeprefix("user:")) == key]  # fmt: skip
    assert len(saved) == 1, saved
