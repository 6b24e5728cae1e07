"""Red team 46: an admin's restoring save lifts a suspension with no second admin.

Lifting a suspension takes an admin who did not impose it (``POST .../unsuspend``, on
record as ``user.unsuspended``); ``PUT /api/v1/admin/users/{subject}`` refuses to
change a suspended account's status. But a row changed behind the gateway is restored
by an admin's whole save, whose ``status`` (active or disabled) is sealed as sent, and
the check that refuses a suspended account read the status the insider left in the
row. So root suspends dora; a database insider (root themselves, on a small deployment,
or anyone with the catalog's owner role) writes ``status = 'active'`` into her row (the
directory refuses the unsealed row: nothing is served yet); root "restores" the row
the API asks to be saved with its status, and dora is active again — a suspension
lifted by the admin who imposed it, with no ``user.unsuspended`` on the trail.

Second door, with no flag at all: ``suspended_by`` is not covered by the row's seal,
so the insider rewrote it (``'root'`` to ``'sam'``), the row still verified, and root
lifted his own suspension through ``unsuspend`` itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from audit.search import EventFilter, list_events
from tests.attacks.redteam27 import run_cli
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-046", "fields": ["region_code"],
         "limit": 1}  # fmt: skip
WHY = {"reason": "incident IR-46: exfiltration suspected"}
USERS = "/api/v1/admin/users"


def _post(gw: DemoGateway, who: str, path: str) -> Any:
    return gw.client.post(f"/api/v1{path}", json=WHY, headers=gw.headers(who))


def _restore(gw: DemoGateway, who: str, listed: dict[str, Any], status: str) -> Any:
    body = {k: listed[k] for k in ("display_name", "department", "clearance", "jurisdiction")}
    return gw.client.put(f"{USERS}/{listed['subject']}", headers=gw.headers(who),
                         json={**body, "status": status})  # fmt: skip


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    """The deployment with a second admin (root2), who may lift what root imposed."""
    root = deployment.headers("root")
    listed = deployment.client.get(USERS, headers=root).json()
    if not any(u["subject"] == "root2" for u in listed):
        made = deployment.client.put(
            f"{USERS}/root2", headers=root, json={"display_name": "Second admin", "clearance": "L4"}
        )
        assert made.status_code == 200, made.text
        given = deployment.client.post(f"{USERS}/root2/roles", headers=root,
                                       json={"role": "admin", "domain": "*"})  # fmt: skip
        assert given.status_code == 200, given.text
    before = deployment.listed_user("dora")
    yield deployment
    now = deployment.listed_user("dora")
    if now["status"] == "suspended" or not now.get("sealed"):
        _post(deployment, "root2", "/users/dora/unsuspend")
    if not deployment.listed_user("dora").get("sealed"):
        assert _restore(deployment, "root2", before, "active").status_code == 200


def _unsuspended_on_record(gw: DemoGateway) -> int:
    page = list_events(
        store=gw.services.audit.store,
        limit=50,
        order="desc",
        filters=EventFilter(type="user.unsuspended", resource="user:dora"),
    )
    return len(page["items"])


@pytest.mark.parametrize("status", ["active", "disabled"])
def test_a_restoring_save_does_not_lift_a_suspension(gw: DemoGateway, status: str) -> None:
    assert gw.query("dora", DIBAO, QUERY).status_code == 200
    listed = gw.listed_user("dora")
    lifted_before = _unsuspended_on_record(gw)
    assert _post(gw, "root", "/users/dora/suspend").status_code == 200
    assert gw.query("dora", DIBAO, QUERY).status_code == 403
    # the suspender cannot lift it, through either door
    assert _post(gw, "root", "/users/dora/unsuspend").status_code == 403
    assert _restore(gw, "root", listed, "active").status_code == 403

    gw.sql(f"UPDATE users SET status = '{status}', suspended_by = NULL, "
           "suspended_reason = NULL, suspended_at = NULL WHERE subject = 'dora'")  # fmt: skip
    assert gw.listed_user("dora").get("sealed") is False
    assert gw.query("dora", DIBAO, QUERY).status_code in (401, 403)  # unsealed: refused

    saved = _restore(gw, "root", listed, status)
    if status == "disabled" and saved.status_code == 200:
        saved = _restore(gw, "root", listed, "active")  # disabled, then active again
    assert saved.status_code == 403, saved.text
    assert gw.query("dora", DIBAO, QUERY).status_code in (401, 403)
    assert _unsuspended_on_record(gw) == lifted_before

    # another admin lifts it on record, then the row is restored as usual
    lifted = _post(gw, "root2", "/users/dora/unsuspend")
    assert lifted.status_code == 200, lifted.text
    assert _unsuspended_on_record(gw) == lifted_before + 1
    assert _restore(gw, "root2", listed, "active").status_code == 200
    assert gw.query("dora", DIBAO, QUERY).status_code == 200


def test_the_suspender_named_in_the_row_is_not_the_word_on_it(gw: DemoGateway) -> None:
    """``suspended_by`` is no governing value (the row's seal does not cover it): an
    insider who rewrites it to another name leaves the row verifying, and the admin
    who imposed the suspension then lifted it alone."""
    assert _post(gw, "root", "/users/dora/suspend").status_code == 200
    gw.sql("UPDATE users SET suspended_by = 'sam' WHERE subject = 'dora'")
    assert gw.listed_user("dora").get("sealed") is True  # nothing tells the row apart
    lifted_before = _unsuspended_on_record(gw)
    mine = _post(gw, "root", "/users/dora/unsuspend")
    assert mine.status_code == 403, mine.text
    assert gw.query("dora", DIBAO, QUERY).status_code == 403
    assert _unsuspended_on_record(gw) == lifted_before
    lifted = _post(gw, "root2", "/users/dora/unsuspend")
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["status"] == "active"
    events = list_events(
        store=gw.services.audit.store,
        limit=1,
        order="desc",
        filters=EventFilter(type="user.unsuspended", resource="user:dora"),
    )
    assert events["items"][0]["details"]["suspended_by"] == "root"  # the trail's word
    assert gw.query("dora", DIBAO, QUERY).status_code == 200


def test_the_operators_restoring_save_does_not_lift_it_either(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sluice users add`` on the host saves through the same service."""
    listed = gw.listed_user("dora")
    assert _post(gw, "root", "/users/dora/suspend").status_code == 200
    gw.sql("UPDATE users SET status = 'active' WHERE subject = 'dora'")
    result = run_cli(gw, monkeypatch, "users", "add", "dora", "--name", listed["display_name"],
                     "--department", "", "--clearance", listed["clearance"],
                     "--jurisdiction", "*", "--status", "active")  # fmt: skip
    assert result.exit_code != 0, result.output
    assert "suspended on record" in result.output
    assert gw.query("dora", DIBAO, QUERY).status_code in (401, 403)
    assert _post(gw, "root2", "/users/dora/unsuspend").status_code == 200
