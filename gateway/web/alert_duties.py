"""Whose alert is it: the separation of duties behind an alert's acknowledgement and
resolution (``gateway.web.routes.audit._move``).

An alert about your own conduct is handled by someone else. "Your own" is more than
being its actor: an admin who chose a local account's console password can sign in as
that account (THREAT_MODEL, "Local console accounts"), so the account's conduct may be
theirs, and the alert about it is about them too — one admin made an analyst of their
own, read as her and closed the alert the officers would have seen (red team 56).
"""

from __future__ import annotations

from typing import Any

from audit.event_types import EventType
from audit.log import AuditLog
from audit.search import EventFilter, list_events

_PAGE = 1000


def chose_password_of(log: AuditLog, handler: str, actor: str, upto_seq: int | None) -> bool:
    """Whether ``handler`` set ``actor``'s console password on record (``user.updated``
    ``{"password": "set"}`` by them), up to ``upto_seq`` (the alert's last event; None:
    any). The trail is read by its indexed columns and the body must say the same; an
    insider's forged row can only refuse the handler here (fail closed)."""
    if handler.strip().casefold() == actor.strip().casefold():
        return False  # the actor test already answers for their own account
    filters = EventFilter(resource=f"user:{actor}", type=EventType.USER_UPDATED.value,
                          actor=handler, to_seq=upto_seq)  # fmt: skip
    cursor: str | None = None
    while True:
        page = list_events(store=log.store, filters=filters, cursor=cursor, limit=_PAGE,
                           order="asc")  # fmt: skip
        if any(_sets_password(e) and filters.said_by_body(e) for e in page["items"]):
            return True
        cursor = page["next_cursor"]
        if cursor is None:
            return False


def _sets_password(event: dict[str, Any]) -> bool:
    details = event.get("details")
    return isinstance(details, dict) and details.get("password") == "set"
