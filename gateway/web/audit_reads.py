"""Reading the audit trail over HTTP, and putting each read on record.

The API's audit routes and the console's audit, charts and home pages read the same
trail under the same rule: the read is recorded *before* the data is returned, and if
that record cannot be written the read fails (503). One module, so that neither can
drift from the other.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from audit.event_types import EventType, Outcome
from audit.log import AuditLog
from audit.records import Actor, audit_access_event
from audit.records import Delivery as Sent
from catalog.errors import NotFound
from gateway.web.deps import count_call, get_services
from gateway.web.routes.streaming import new_request_ids
from policies.decision import UserContext


def readable_trail(request: Request) -> AuditLog:
    """The process's audit log, when it can be read (store, seal, witnesses): more than
    the ``audit.sink.AuditSink`` the rest of the gateway writes through; a gateway wired
    with a write-only sink answers 404 rather than pretend to be empty."""
    log = get_services(request).audit
    if not isinstance(log, AuditLog):
        raise NotFound("this gateway's audit trail cannot be read through the API")
    return log


def record_audit_read(
    request: Request,
    user: UserContext,
    etype: EventType | str,
    details: dict[str, Any],
    *,
    request_id: str | None = None,
    outcome: Outcome = Outcome.OK,
    sent: Sent | None = None,
) -> str:
    """Audit the auditor: written before the answer leaves, fail closed. While sealed
    the record goes to the seal file (the broken chain takes nothing). Returns the
    request id on record.

    The request id on record is the gateway's own; the client's ``X-Request-Id`` is a
    side note (``client_request_id``) if it is a plain token, as for queries: taken as
    the request id, it let an officer file their read under an analyst's request.
    ``request_id``, ``outcome`` and ``sent``: the end of an export cut short, under the
    request id of its ``audit.exported`` (``gateway.web.audit_export``)."""
    log = readable_trail(request)
    if request_id is None:  # a new read (an export's end, under its start's id, never refused)
        count_call(request, user.subject)  # the console's audit pages have no other door
    fresh, client_request_id = new_request_ids(request)
    request_id = request_id or fresh
    kept = {k: v for k, v in details.items() if v is not None}
    if client_request_id is not None:
        kept["client_request_id"] = client_request_id
    if log.seal.sealed:
        what = {} if sent is None else {"rows": sent.rows, "result_sha256": sent.result_sha256}
        log.seal.record("access", sub=user.subject, roles=list(user.roles), action=str(etype),
                        request_id=request_id, outcome=str(outcome),
                        details={**kept, **what})  # fmt: skip
        return request_id
    log.append(
        audit_access_event(
            type_=etype,
            actor=Actor.of(user),
            client=request.client.host if request.client else None,
            request_id=request_id,
            details=kept,
            outcome=outcome,
            delivery=sent or Sent(),
        )
    )
    return request_id
