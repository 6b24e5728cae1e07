"""Red team 29's left row, as an operator on the gateway's host: an update through
``sluice users add`` reset what it did not name.

Rule: an administrator's change is the change they asked for, and the trail says what
it changed. ``sluice users add SUBJECT`` creates a user or updates one.

Attack (an operator's everyday mistake, which an insider can also hide behind): carl is
civil's steward, L3, over county 430121. The operator renames him —
``sluice users add carl --name "Carl Chen"`` — and nothing else. The command's defaults
(no department, clearance L1, no jurisdiction) were saved over carl's: he lost his
department (his stewardship of civil's data with it) and his clearance, and the trail
said ``user.updated`` with a department of null, read as if the operator had meant it.
The other way round, a new clearance typed alone (``--clearance L4``) was refused for
lack of ``--name``.

Expected: an update changes only what its flags give; the others keep their values
(a new user still gets the defaults); the ``user.updated`` event names what changed,
from what to what (``changed``), beside every value saved.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from typing import Any

import pytest

from audit.search import EventFilter, list_events
from tests.attacks.redteam27 import run_cli
from tests.gateway.demo_app import DemoGateway

KEPT = ("department", "clearance", "jurisdiction", "display_name")


def _last_update(gw: DemoGateway, subject: str) -> dict[str, Any]:
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="user.updated", resource=f"user:{subject}"),
                       limit=1)  # fmt: skip
    return dict(page["items"][0])


@pytest.mark.parametrize(("subject", "option", "field", "value"), [
    ("carl", "--name", "display_name", "Carl Chen"),  # a steward renamed
    ("alice", "--clearance", "clearance", "L4"),  # alone: it asked for --name before
])  # fmt: skip
def test_an_update_changes_only_what_it_names(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch, subject: str, option: str,
    field: str, value: str,
) -> None:  # fmt: skip
    gw = deployment
    before = gw.listed_user(subject)
    assert before["department"] or before["clearance"] != "L1", before
    try:
        result = run_cli(gw, monkeypatch, "users", "add", subject, option, value)
        assert result.exit_code == 0, result.output
        after = gw.listed_user(subject)
        assert {**before, field: value, "sealed": True} == {**after, "sealed": True}, after
        details = _last_update(gw, subject)["details"]
        assert details["changed"] == {field: {"from": before[field], "to": value}}, details
        assert {k: details[k] for k in KEPT} == {k: after[k] for k in KEPT}, details
    finally:
        gw.restore_user(before)


def test_a_new_user_needs_a_name_and_gets_the_defaults(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    nameless = run_cli(gw, monkeypatch, "users", "add", "rows33new", "--clearance", "L2")
    assert nameless.exit_code != 0 and "--name" in nameless.output, nameless.output
    made = run_cli(gw, monkeypatch, "users", "add", "rows33new", "--name", "New")
    assert made.exit_code == 0, made.output
    listed = gw.listed_user("rows33new")
    assert (listed["department"], listed["clearance"], listed["jurisdiction"]) == (None, "L1", [])
    assert _last_update(gw, "rows33new")["details"]["created"] is True


def test_a_row_changed_behind_the_gateway_is_saved_only_whole(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kept values would be the insider's, sealed by the save: the operator names them."""
    gw = deployment
    before = gw.listed_user("alice")
    try:
        gw.sql("UPDATE users SET clearance = 'L4' WHERE subject = 'alice'")
        partial = run_cli(gw, monkeypatch, "users", "add", "alice", "--name", "A",
                          "--status", "active")  # fmt: skip
        assert partial.exit_code != 0 and "outside the gateway" in partial.output
        assert gw.listed_user("alice")["sealed"] is False
        whole = run_cli(gw, monkeypatch, "users", "add", "alice", "--name", "Alice",
                        "--department", "", "--clearance", "L3", "--jurisdiction", "430121",
                        "--status", "active")  # fmt: skip
        assert whole.exit_code == 0, whole.output
        assert gw.listed_user("alice")["sealed"] is True
    finally:
        gw.restore_user(before)
