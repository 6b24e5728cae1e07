"""Red team 47, as an admin (root) with a database insider: a suspended user made anew.

Rule (red team 46): a suspension is lifted by an admin who did not impose it, on
record (``user.unsuspended``); an admin's save that would restore a row changed behind
the gateway is refused while the trail names a suspension
(``service.refuse_restoring_suspended``).

Attack: the API deletes no user, but the catalog's owner can: root suspends dora, then
``DELETE FROM users WHERE subject = 'dora'`` (only the console's own rows depend on it,
and go with it). Her role lines stay, sealed and current. root "creates" dora again
(``PUT /api/v1/admin/users/dora``, or ``sluice users add``): a new row, sealed as sent,
``active`` — the save's check looked at the trail only for a row that was there and did
not verify, never for a new one. dora was served again: a suspension lifted by the
admin who imposed it, with no ``user.unsuspended`` on the trail.

Expected: a save asking a status for a subject the trail says is suspended is refused
(403); made without one, the account is made suspended, as the trail says, and another
admin lifts it. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.attacks.redteam27 import run_cli
from tests.attacks.test_redteam46_admin_restore_lifts_suspension import (
    DIBAO,
    QUERY,
    USERS,
    _post,
    _unsuspended_on_record,
)
from tests.attacks.test_redteam46_admin_restore_lifts_suspension import gw as gw
from tests.gateway.demo_app import DemoGateway


def _recreate(gw: DemoGateway, who: str, listed: dict[str, object], **status: str) -> Any:
    body = {k: listed[k] for k in ("display_name", "department", "clearance", "jurisdiction")}
    return gw.client.put(f"{USERS}/dora", headers=gw.headers(who), json={**body, **status})


def test_a_suspended_user_deleted_behind_the_gateway_is_not_made_anew(gw: DemoGateway) -> None:
    listed = gw.listed_user("dora")
    lifted_before = _unsuspended_on_record(gw)
    assert _post(gw, "root", "/users/dora/suspend").status_code == 200
    gw.sql("DELETE FROM users WHERE subject = 'dora'")
    made = _recreate(gw, "root", listed, status="active")
    assert made.status_code == 403, made.text
    assert all(
        u["subject"] != "dora" for u in gw.client.get(USERS, headers=gw.headers("root")).json()
    )
    # made again without a status: suspended, as the trail says
    made = _recreate(gw, "root", listed)
    assert made.status_code == 200, made.text
    assert made.json()["status"] == "suspended"
    assert gw.query("dora", DIBAO, QUERY).status_code == 403
    assert _post(gw, "root", "/users/dora/unsuspend").status_code == 403  # still root's
    assert _unsuspended_on_record(gw) == lifted_before
    assert _post(gw, "root2", "/users/dora/unsuspend").status_code == 200
    assert gw.query("dora", DIBAO, QUERY).status_code == 200


def test_nor_by_the_operators_add(gw: DemoGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    listed = gw.listed_user("dora")
    assert _post(gw, "root", "/users/dora/suspend").status_code == 200
    gw.sql("DELETE FROM users WHERE subject = 'dora'")
    add = ("users", "add", "dora", "--name", str(listed["display_name"]),
           "--clearance", str(listed["clearance"]), "--jurisdiction", "*")  # fmt: skip
    refused = run_cli(gw, monkeypatch, *add, "--status", "active")
    assert refused.exit_code != 0, refused.output
    assert "suspended on record" in refused.output
    assert all(
        u["subject"] != "dora" for u in gw.client.get(USERS, headers=gw.headers("root")).json()
    )
    made = run_cli(gw, monkeypatch, *add)
    assert made.exit_code == 0, made.output
    assert gw.listed_user("dora")["status"] == "suspended"
    assert gw.query("dora", DIBAO, QUERY).status_code == 403
