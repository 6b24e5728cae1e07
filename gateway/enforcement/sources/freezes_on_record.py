"""Which entries the audit trail says are frozen, for catalog rows that cannot say it.

A freeze stops the data, whichever entry reads it: the broker, the comparisons and
publication hold every entry over the frozen entry's object, or over a view of it,
while the freeze stands (``objects.FrozenObject.held_by``). Which entries are frozen,
and with which fields, was read from the ``datasets`` and ``fields`` rows as they
stand: the frozen entry's own seal covers them, so an insider's edit stopped that
entry — and freed its copies and views, which no longer saw a freeze (``frozen_at``
cleared) or a personal field to hold them by (red team 48). The trail keeps what the
rows cannot: an entry whose newest ``dataset.frozen`` no genuine ``dataset.unfrozen``
followed is frozen on record (a lift is believed only as a gateway wrote it at its
seq, ``audit.genuine``, and only if its body says it is this entry's lift; a forged
freeze counts: fail closed, as for a suspension),
with the department its freeze recorded (``resource_dept``): an entry whose rows were
deleted holds that department's entries, or every entry when none is recorded.
"""

from __future__ import annotations

from audit.event_types import EventType
from audit.genuine import newest_on_record
from audit.log import AuditLog
from audit.search import EventFilter, iter_bodies
from audit.sink import AuditSink

_PREFIX = "dataset:"


def frozen_on_record(trail: AuditSink | None) -> dict[str, str | None]:
    """The entries the trail says are frozen now, each with its department as its
    newest freeze recorded it (none for a stand-in trail)."""
    if not isinstance(trail, AuditLog):
        return {}
    newest: dict[str, tuple[int, str | None]] = {}
    for event in iter_bodies(store=trail.store,
                             filters=EventFilter(type=EventType.DATASET_FROZEN.value)):  # fmt: skip
        resource = str(event.get("resource") or "")
        if resource.startswith(_PREFIX):
            department = (event.get("details") or {}).get("resource_dept")
            newest[resource[len(_PREFIX) :]] = (
                int(event["seq"]), department if isinstance(department, str) else None)  # fmt: skip
    return {entry: department for entry, (seq, department) in newest.items()
            if not _lifted(trail, entry, seq)}  # fmt: skip


def _lifted(trail: AuditLog, entry: str, frozen_seq: int) -> bool:
    """Whether a genuine ``dataset.unfrozen`` of ``entry`` follows its freeze: the
    newest the index columns find, whose hashed body says so too — a gateway's event of
    another kind, re-indexed by an insider as this entry's lift, is genuine at its seq
    and lifted the freeze on record (red team 49; red team 47's borrowed suspension)."""
    filters = EventFilter(resource=_PREFIX + entry, type=EventType.DATASET_UNFROZEN.value)
    found = newest_on_record(trail.store, filters)
    return found is not None and int(found[0]["seq"]) > frozen_seq and found[1]
