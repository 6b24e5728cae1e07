"""Red team 25's left row, as an admin (two role changes of one user at once: a double
click, or root and a second admin).

A role assignment took no row lock. Two at once of one user both read the roles held,
both passed ``check_assignment`` and both put ``role.assigned`` ``ok`` on the trail;
casbin checks again under its own lock and refused the second (separation of duties:
an analyst is never a security officer) — a 409 after an ``ok`` record of a role that
was never given (red team 25's rule: a refusal must not leave an ``ok`` record of a
change that was never made). Both also rewrote ``users.roles`` from the row each had
loaded. The assignment and the removal now take the user's write lock (held to the
commit, as every other change of the user's row) and read the user afresh under it:
the second sees the first's role, and is refused before its record.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.stewardship.users import service
from tests.attacks.test_redteam26_analyst_model_create_record import both_past, two_at_once
from tests.gateway.comparison_env import events
from tests.gateway.demo_app import DemoGateway

SUBJECT = "rows30_duo"


def test_the_losing_assignment_of_two_at_once_is_not_on_record(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    root = gw.headers("root")
    made = gw.client.put(f"/api/v1/admin/users/{SUBJECT}",
                         json={"display_name": "Duo", "clearance": "L2"}, headers=root)  # fmt: skip
    assert made.status_code == 200, made.text
    both_past(monkeypatch, service, "check_assignment")  # both read the roles held
    roles = ("analyst", "security_officer")  # never both (separation of duties)
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        body = {"role": roles[i], "domain": "*"}
        results[i] = gw.client.post(f"/api/v1/admin/users/{SUBJECT}/roles", json=body,
                                    headers=root)  # fmt: skip

    two_at_once(run)
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    won = roles[next(i for i, r in enumerate(results) if r.status_code == 200)]
    given = [e["details"]["role"] for e in events(gw, types=("role.assigned",))
             if e["resource"] == f"user:{SUBJECT}"]  # fmt: skip
    assert given == [won], f"the refused assignment is on record as given: {given}"
    listed = gw.listed_user(SUBJECT)
    assert listed["roles"] == [{"role": won, "domain": "*"}], listed
