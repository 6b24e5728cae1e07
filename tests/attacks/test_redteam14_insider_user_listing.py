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

import pytest

from tests.gateway.demo_app import DemoGateway

USERS = "/api/v1/admin/users"


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    before = deployment.listed_user("arthur")
    yield deployment
    deployment.restore_user(before)


def test_the_listing_tells_a_row_changed_behind_the_gateway(gw: DemoGateway) -> None:
    assert gw.listed_user("arthur").get("sealed") is True
    gw.sql("UPDATE users SET clearance = 'L4', jurisdiction = '[\"\"]' WHERE subject = 'arthur'")
    listed = gw.listed_user("arthur")
    assert listed["clearance"] == "L4"  # what the row says, flagged
    assert listed.get("sealed") is False
    one = gw.client.get(f"{USERS}/arthur", headers=gw.headers("root"))
    if one.status_code == 200:
        assert one.json().get("sealed") is False
