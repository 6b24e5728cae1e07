"""Whether the audit trail says a user is suspended, for a row that cannot say it.

A suspension is lifted by an admin who did not impose it (``emergency.unsuspend``, on
record as ``user.unsuspended``), and an admin's save refuses to change a suspended
account's status. Both read ``users.status``. A row changed behind the gateway is
restored by an admin's whole save, sealed as sent (``catalog.row_seals.restate``); its
stored status is an insider's, so a database insider writing ``status = 'active'``
into a suspended account's row let the admin who imposed the suspension (or any admin
answering the API's "save it with its status" message) lift it by that save: one
person, and no ``user.unsuspended`` on the trail (red team 46); and ``suspended_by``,
which the row's seal does not cover, rewritten to another name let the suspender lift
it through ``unsuspend`` itself, the row still verifying. Who suspended whom, and
whether a row that does not verify was suspended, are read from the trail instead:
the newer of the subject's newest ``user.suspended`` and ``user.unsuspended`` events,
each believed only as a gateway wrote it at its seq (``audit.genuine``) — a forged
newest event counts as a suspension (fail closed; the forgery itself seals the trail
when the sweep reaches it).
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.event_types import EventType
from audit.genuine import newest_on_record
from audit.log import AuditLog
from audit.search import EventFilter
from audit.sink import AuditSink


@dataclass(frozen=True)
class Suspension:
    """The newest suspension on record that no later lifting ended."""

    seq: int
    by: str | None  # who imposed it (None: the event was not a gateway's)


def _newest(log: AuditLog, subject: str, type_: EventType) -> tuple[int, str | None] | None:
    """The subject's newest event of ``type_``: its seq and actor (None when forged: not
    a gateway's at its seq, or a gateway's event whose body is not what its index
    columns say — someone else's event re-indexed as this one, red team 47)."""
    found = newest_on_record(log.store, EventFilter(resource=f"user:{subject}", type=type_.value))
    if found is None:
        return None
    event, believed = found
    seq = int(event["seq"])
    if not believed:
        return seq, None
    actor = event.get("actor")
    return seq, (str(actor.get("sub")) if isinstance(actor, dict) else None)


def suspension_on_record(audit: AuditSink, subject: str) -> Suspension | None:
    """The suspension the trail says ``subject`` is under, or None (a stand-in trail
    holds nothing on record)."""
    if not isinstance(audit, AuditLog):
        return None
    imposed = _newest(audit, subject, EventType.USER_SUSPENDED)
    if imposed is None:
        return None
    lifted = _newest(audit, subject, EventType.USER_UNSUSPENDED)
    if lifted is not None and lifted[0] > imposed[0] and lifted[1] is not None:
        return None
    return Suspension(imposed[0], imposed[1])
