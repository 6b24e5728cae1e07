"""Red team 26, as an admin (two saves of one new user at once: a double click, or
root and a second admin onboarding the same person).

Both find no user ``zed`` and make one; the first binds, records ``user.updated`` and
commits; the second waited for the user's write lock, then bound its own new row and
put its ``user.updated`` ``ok`` on the trail (with its own clearance and jurisdiction)
before its commit hit the primary key. A refusal must not leave an ``ok`` record of a
change that was never made (red team 25's rule), and must be a 409, not a 500.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.stewardship.users import service
from tests.attacks.test_redteam26_analyst_model_create_record import (
    both_past,
    one_made_one_on_record,
    two_at_once,
)
from tests.gateway.demo_app import DemoGateway


def test_the_losing_save_of_a_new_user_is_not_on_record(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    both_past(monkeypatch, service, "check_new_subject")  # both found no such user
    results: list[Any] = [None, None]
    clearances = ("L1", "L3")

    def run(i: int) -> None:
        body = {"display_name": "Zed", "department": "civil", "clearance": clearances[i],
                "jurisdiction": [""]}  # fmt: skip
        results[i] = gw.client.put("/api/v1/admin/users/zed", json=body, headers=gw.headers("root"))

    two_at_once(run)
    for r in results:  # a save of a new user answers 200
        r.status_code = 201 if r.status_code == 200 else r.status_code
    one_made_one_on_record(gw, results, "user.updated", "user:zed")
