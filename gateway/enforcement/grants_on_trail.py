"""The fields a user's grants released, as the audit trail tells it.

``grants.known_rows`` reads them from ``access_requests``, sealed rows only: a row an
insider who can write the catalog database deletes, or garbles (its seal fails, and it
is dropped: fail closed for a grant, which unmasks nothing) is no longer *known* either
— and what its holder read under it they still know (red team 39: arthur read the
roll's start dates under his grant, an insider deleted its row, and his comparison of
finance's shifted payment dates with the roll's shifted start dates, in another case,
gave 123 of 300 true dates away). The trail keeps what the table may lose: the
requester's ``access.requested`` events name their requests, and an ``access.approved``
event whose status is ``approved`` names the fields it released; an insider cannot drop
either unnoticed (the chain and its witnesses). Read where a comparison's keys are
judged (``comparison.access.check_keys_alike``), a few per comparison.

A gateway wired with a write-only sink (a test's stand-in) has nothing to read and
adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audit.event_types import EventType
from audit.log import AuditLog
from audit.search import EventFilter, iter_bodies
from audit.sink import AuditSink


@dataclass(frozen=True)
class OnTrail:
    """What the trail's approvals released to a user on one entry: the entry's
    department as its requests recorded it, and each field with one approval's case."""

    department: str | None
    fields: dict[str, str]


def approvals_on_trail(trail: AuditSink | None, subject: str) -> dict[str, OnTrail]:
    """By entry ``subject`` asked for, each field an approval on the trail released to
    them (with the case of one such approval), and the entry's department as their
    requests recorded it (``grants``: the entries reading the same data are compared
    within it)."""
    found: dict[str, OnTrail] = {}
    if not isinstance(trail, AuditLog):
        return found
    asked: dict[str, set[str | None]] = {}
    departments: dict[str, str | None] = {}
    for event in _events(trail, EventType.ACCESS_REQUESTED, None, actor=subject):
        entry = dataset_of(event)
        if entry is not None:
            asked.setdefault(entry, set()).add(_request_id(event))
            departments.setdefault(entry, department_of(event))
    for dataset_id, requests in asked.items():
        for event in _events(trail, EventType.ACCESS_APPROVED, dataset_id):
            details = event.get("details") or {}
            if details.get("status") != "approved" or _request_id(event) not in requests:
                continue
            fields = found.setdefault(dataset_id, OnTrail(departments[dataset_id], {})).fields
            for name in details.get("fields") or []:
                fields.setdefault(str(name), str(event.get("case_ref") or ""))
    return found


def department_of(event: dict[str, Any]) -> str | None:
    """The department an event's body recorded for its entry (``resource_dept``)."""
    details = event.get("details")
    found = details.get("resource_dept") if isinstance(details, dict) else None
    return found if isinstance(found, str) else None


def dataset_of(event: dict[str, Any]) -> str | None:
    """The entry an event's body names as its resource (``dataset:<id>``)."""
    resource = event.get("resource")
    if not isinstance(resource, str) or not resource.startswith("dataset:"):
        return None
    return resource.removeprefix("dataset:")


def _events(
    trail: AuditLog, type_: EventType, dataset_id: str | None, actor: str | None = None
) -> list[dict[str, Any]]:
    filters = EventFilter(actor=actor, dataset=dataset_id, type=str(type_))
    return iter_bodies(store=trail.store, filters=filters)


def _request_id(event: dict[str, Any]) -> str | None:
    details = event.get("details")
    found = details.get("access_request") if isinstance(details, dict) else None
    return found if isinstance(found, str) else None
