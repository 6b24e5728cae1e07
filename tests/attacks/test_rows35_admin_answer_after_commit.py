"""rows35, admin with a failure after the commit: the account stays served.

``PUT /api/v1/admin/users/{s}`` (and ``…/id-number``) bound the row's new state on the
trail, recorded ``user.updated`` and committed inside ``bound_changes`` — and built its
answer (``describe``: the user's roles, the row's binding) there too, after the commit.
An error in that answer (a role read failing: casbin's reload, a database blip) left
``bound_changes`` binding the row's *loaded* state again although the change had
committed: the row held the new state, the trail named the old one, and the account was
refused (403 ``account_unsealed``) until an admin saved it again. The answer is now
built after the guard: the failure is a 500 and nothing more.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.demo_app import DemoGateway

QUERY = {"fields": ["region_code"], "purpose": "supervision", "case_ref": "JW-R35", "limit": 1}
DIBAO = "civil.dibao_recipients"


class RoleReadFailed(RuntimeError):
    """The role read failing once, as the answer is built."""


@pytest.mark.parametrize("route", ["attributes", "id-number"])
def test_a_failed_answer_after_the_commit_leaves_the_account_served(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    gw = deployment
    assert gw.query("alice", DIBAO, QUERY).status_code == 200
    listed = gw.listed_user("alice")
    authorizer = gw.services.authorizer
    roles_of = authorizer.roles_of
    armed = [True]

    def failing_once(subject: str) -> list[tuple[str, str]]:
        if subject == "alice" and armed[0]:
            armed[0] = False
            raise RoleReadFailed("the role read failed")
        return roles_of(subject)

    monkeypatch.setattr(authorizer, "roles_of", failing_once)
    url, body = f"/api/v1/admin/users/alice", {}  # noqa: F541
    if route == "attributes":
        body = {k: listed[k] for k in ("display_name", "department", "jurisdiction")}
        body["clearance"] = "L2" if listed["clearance"] == "L3" else "L3"
    else:
        url, body = f"{url}/id-number", {"id_number": "110101199003070038"}
    with pytest.raises(RoleReadFailed):
        gw.client.put(url, headers=gw.headers("root"), json=body)
    assert not armed[0], "the role read was not reached"
    monkeypatch.undo()
    after: dict[str, Any] = gw.listed_user("alice")
    if route == "attributes":
        assert after["clearance"] == body["clearance"]  # the change committed
    else:
        assert after["has_id_number"]
    resp = gw.query("alice", DIBAO, QUERY)
    assert resp.status_code == 200, resp.text  # not 403 account_unsealed
    assert after["sealed"] is True
    gw.restore_user(listed)
