"""The admins' and officers' user listing after a database insider's edit.

``UPDATE users SET clearance = 'L4', jurisdiction = '[""]'``: the directory refuses
arthur (``account_unsealed``) and says an admin must save the account again through the
gateway. The listing that admin reads showed arthur ``active``, L4, every county — the
insider's values as the account's, nothing to tell them apart, so the save that
restores the account (a ``PUT`` with every governing value, often the form filled from
that listing) sealed the insider's values. Each user now carries ``sealed``: false for
a row that does not verify.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.gateway.demo_app import DemoGateway

USERS = "/api/v1/admin/users"


def _listed(gw: DemoGateway, subject: str) -> dict[str, Any]:
    users = gw.client.get(USERS, headers=gw.headers("root")).json()
    return dict(next(u for u in users if u["subject"] == subject))


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    before = _listed(deployment, "arthur")
    yield deployment
    body = {k: before[k] for k in ("display_name", "department", "clearance", "jurisdiction")}
    resp = deployment.client.put(f"{USERS}/arthur", headers=deployment.headers("root"),
                                 json={**body, "status": "active"})  # fmt: skip
    assert resp.status_code == 200, resp.text


def test_the_listing_tells_a_row_changed_behind_the_gateway(gw: DemoGateway) -> None:
    assert _listed(gw, "arthur").get("sealed") is True
    gw.sql("UPDATE users SET clearance = 'L4', jurisdiction = '[\"\"]' WHERE subject = 'arthur'")
    listed = _listed(gw, "arthur")
    assert listed["clearance"] == "L4"  # what the row says, flagged
    assert listed.get("sealed") is False
    one = gw.client.get(f"{USERS}/arthur", headers=gw.headers("root"))
    if one.status_code == 200:
        assert one.json().get("sealed") is False
