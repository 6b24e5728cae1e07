"""Whether an admin chose a user's console password, on record: for the separations of
duties that keep a person off decisions about themselves.

An admin who chose a local account's console password can sign in as that account
(THREAT_MODEL, "Local console accounts"), so the account's conduct may be theirs. A
decision about that conduct is then about the admin too, and another person makes it:
the alert about it (``gateway.web.routes.audit._move``) — one admin made an analyst of
their own, read as her and closed the alert the officers would have seen — and the
lifting of an officer's suspension of it (``emergency.unsuspend``) (red team 56).
"""

from __future__ import annotations

from typing import Any

from audit.event_types import EventType
from audit.log import AuditLog
from audit.search import EventFilter, list_events
from audit.sink import AuditSink

_PAGE = 1000


def chose_password_of(
    audit: AuditSink, handler: str, actor: str, upto_seq: int | None = None
) -> bool:
    """Whether ``handler`` set ``actor``'s console password on record (``user.updated``
    ``{"password": "set"}`` by them), up to ``upto_seq`` (an alert's last event; None:
    any). The trail is read by its indexed columns and the body must say the same; an
    insider's forged row can only refuse the handler here (fail closed). A stand-in
    trail holds nothing on record."""
    if not isinstance(audit, AuditLog):
        return False
    if handler.strip().casefold() == actor.strip().casefold():
        return False  # the callers' own-account test answers for that
    filters = EventFilter(resource=f"user:{actor}", type=EventType.USER_UPDATED.value,
                          actor=handler, to_seq=upto_seq)  # fmt: skip
    cursor: str | None = None
    while True:
        page = list_events(store=audit.store, filters=filters, cursor=cursor, limit=_PAGE,
                           order="asc")  # fmt: skip
        if any(_sets_password(e) and filters.said_by_body(e) for e in page["items"]):
            return True
        cursor = page["next_cursor"]
        if cursor is None:
            return False


def _sets_password(event: dict[str, Any]) -> bool:
    details = event.get("details")
    return isinstance(details, dict) and details.get("password") == "set"
