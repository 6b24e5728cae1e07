"""An update of the attributes an operator names, the others kept (``sluice users add``).

The API's ``PUT`` and the console's form send a user whole. The CLI's flags are each
optional, and its defaults (no department, L1, no region) were saved over the values an
operator left out: renaming a steward took away their department and clearance, on
record as if meant (red team 29). What is not named now keeps its value (a new user
gets the defaults), and the change says what it changed, from what to what.

A row changed behind the gateway is not a base to keep values from: its values are an
insider's, and a save seals what it sends (``catalog.row_seals.restate``); such a row
is saved only whole, every attribute named.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from catalog.errors import BadRequest, Conflict
from catalog.models import User
from catalog.row_bindings import user_key
from gateway.stewardship.row_locks import hold_rows
from gateway.stewardship.users.service import MAX_SUBJECT, current_user_row

ATTRIBUTES = ("display_name", "department", "clearance", "jurisdiction")
NEW_USER: dict[str, Any] = {"department": None, "clearance": "L1", "jurisdiction": []}


def _stored(user: User) -> dict[str, Any]:
    return {"display_name": user.display_name, "department": user.department,
            "clearance": user.clearance, "jurisdiction": list(user.jurisdiction or [])}  # fmt: skip


def merge_named(
    *, session: Session, subject: str, named: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The attributes to save (``named``'s, the stored ones for the rest) and what goes
    on record: every value saved (as the API's ``user.updated`` says it), with
    ``changed`` (``{name: {"from", "to"}}``) for an update, ``created`` for a new user.
    Holds the user's write lock to the commit, so the kept values are not another
    change's stale copy."""
    unknown = set(named) - set(ATTRIBUTES)
    if unknown:
        raise BadRequest(f"not a user attribute: {sorted(unknown)}")
    user = None
    if len(subject) <= MAX_SUBJECT:  # a longer one is refused as new (upsert_user)
        hold_rows(session, [user_key(subject)])
        user = session.get(User, subject, populate_existing=True)
    if user is None:
        if "display_name" not in named:
            raise BadRequest(f"{subject!r} is a new user: give a display name (--name)")
        values = {**NEW_USER, **named}
        return values, {**values, "created": True}
    if set(named) != set(ATTRIBUTES) and not current_user_row(session.connection(), user):
        raise Conflict(f"{subject!r}'s record was changed outside the gateway: save it "
                       "whole (--name, --department, --clearance, --jurisdiction, "
                       "--status)")  # fmt: skip
    stored = _stored(user)
    values = {**stored, **named}
    changed = {k: {"from": stored[k], "to": values[k]} for k in ATTRIBUTES
               if values[k] != stored[k]}  # fmt: skip
    return values, {**values, "changed": changed}
