"""Access requests: ask, approve (by someone else), reject, revoke; active grants.

Functions change rows in the session without flushing; ``record_change`` appends the
audit event first and then commits, so no write lock is held while the audit store
writes and a change never lands unrecorded. The API's routes and the console's pages
both call ``check_may_decide`` and ``record_change`` (one code path for both).

Checks and balances live here and are re-checked by the Rego policy: an approver is
never the requester, nobody approves twice, and releasing L4 fields needs two
different stewards of the owning department.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from audit.event_types import EventType
from audit.records import Actor, AuditEvent, access_event
from audit.sink import AuditSink
from catalog.access_requests import AccessRequest, new_request_id
from catalog.entry_seals import require_entry_sealed
from catalog.errors import BadRequest, Conflict, Forbidden, NotFound
from catalog.grant_seals import ACCESS_REQUESTS, require_sealed
from catalog.models import Dataset
from catalog.reidentifications import ReidentificationRequest
from catalog.row_bindings import grant_key
from catalog.timestamps import utc_text
from gateway.stewardship.grants.compared_keys import refuse_unmasking
from gateway.stewardship.grants.read_tokens import refuse_decoding
from gateway.stewardship.row_locks import hold_rows
from gateway.stewardship.row_trail import bound_changes
from policies.authorizer import RoleAuthorizer
from policies.decision import UserContext

MAX_DAYS = 90


def required_approvals(dataset: Dataset, fields: list[str]) -> int:
    """Two stewards for anything at L4 (dataset or field), one otherwise."""
    levels = {f.name: f.level for f in dataset.fields}
    if dataset.level == "L4" or any(levels.get(name) == "L4" for name in fields):
        return 2
    return 1


def create_request(
    *,
    session: Session,
    user: UserContext,
    dataset: Dataset,
    fields: list[str],
    purpose: str,
    case_ref: str,
    justification: str,
    days: int,
) -> AccessRequest:
    known = {f.name for f in dataset.fields}
    unknown = sorted(set(fields) - known)
    if not fields:
        raise BadRequest("name at least one field to request")
    if unknown:
        raise BadRequest(f"unknown fields for {dataset.id}: {', '.join(unknown)}", fields=unknown)
    if not 1 <= days <= MAX_DAYS:
        raise BadRequest(f"days must be between 1 and {MAX_DAYS}")
    if purpose not in (dataset.allowed_purposes or []):
        raise BadRequest(
            f"purpose {purpose!r} is not allowed for {dataset.id}",
            allowed_purposes=list(dataset.allowed_purposes or []),
        )
    if not case_ref.strip():
        raise BadRequest("a case reference is required")
    if not justification.strip():
        raise BadRequest("a justification is required")
    request = AccessRequest(
        id=new_request_id(),
        requester=user.subject,
        dataset_id=dataset.id,
        department=dataset.department,
        fields=sorted(set(fields)),
        purpose=purpose,
        case_ref=case_ref,
        justification=justification,
        days=days,
        status="pending",
        required_approvals=required_approvals(dataset, fields),
        approvals=[],
    )
    session.add(request)
    return request


def get_request(*, session: Session, request_id: str) -> AccessRequest:
    request = session.get(AccessRequest, request_id)
    if request is None:
        raise NotFound(f"no access request {request_id}")
    return request


def steward_departments(authorizer: RoleAuthorizer, user: UserContext) -> list[str]:
    """The departments whose access requests the caller sees and decides on: where they
    hold the steward's role *and* which is their own department (both gates, as every
    decision checks; a steward moved elsewhere keeps no view of the old one)."""
    return [domain for role, domain in authorizer.roles_of(user.subject)
            if role == "steward" and domain != "*" and domain == user.department]  # fmt: skip


def list_requests(
    *, session: Session, user: UserContext, approver_departments: list[str]
) -> list[AccessRequest]:
    """The caller's own requests plus those they may decide on."""
    clauses = [AccessRequest.requester == user.subject]
    if approver_departments:
        clauses.append(AccessRequest.department.in_(approver_departments))
    stmt = select(AccessRequest).where(or_(*clauses)).order_by(AccessRequest.id.desc())
    return list(session.scalars(stmt))


def hold_for_approval(
    session: Session, table: str, request: AccessRequest | ReidentificationRequest
) -> None:
    """One approval of a request at a time: take its row's write lock until the
    session's transaction ends, then read the row again under it.

    An approval reads the approvals so far, binds the row's new state on the trail and
    writes the list back; the commit compares only the status. Two approvals that read
    the same list both committed (200 and 200) and the second dropped the first, or the
    second found the first's binding and was refused as a row changed outside the
    gateway (red team 20). Held from before the read to the commit, the second waits
    for the first and adds its approval to the list the first wrote (a wait longer
    than ``row_locks.WRITE_WAIT_S`` is a 409; approve again). Withdrawals, rejections and
    revocations take no such lock: an approval racing one of them loses its
    compare-and-set on the status (409), as before."""
    hold_rows(session, [grant_key(table, request.id)])
    session.refresh(request)


def approve(
    *, session: Session, approver: UserContext, request: AccessRequest, now: datetime,
    trail: AuditSink,
) -> AccessRequest:  # fmt: skip
    """One steward's approval; the last one needed makes the request a grant, unless
    that grant would unmask a comparison its requester made (``compared_keys``, 409) or
    decode a case's tokens they read (``read_tokens``, 409)."""
    _check_decider(approver, request)
    hold_for_approval(session, ACCESS_REQUESTS, request)
    if request.status != "pending":
        raise Conflict(f"access request {request.id} is {request.status}, not pending")
    # an approval seals the row it writes: never one an insider wrote or edited
    require_sealed(session.connection(), ACCESS_REQUESTS, request)
    _required_now(session, request)
    if any(a["by"] == approver.subject for a in request.approvals):
        raise Forbidden("you have already approved this request; a second steward must approve")
    approvals = [*request.approvals, {"by": approver.subject, "at": utc_text(now)}]
    request.approvals = approvals
    if len({a["by"] for a in approvals}) >= request.required_approvals:
        refuse_unmasking(trail=trail, conn=session.connection(), request=request)
        refuse_decoding(trail=trail, conn=session.connection(), request=request)
        request.status = "approved"
        request.approved_at = now
        request.expires_at = now + timedelta(days=request.days)
        request.decided_by = approver.subject
    return request


def _required_now(session: Session, request: AccessRequest) -> None:
    """Raise ``required_approvals`` to what the entry asks now (never lower it): an entry
    or field raised to L4 while the request waited needs two stewards at the approval:
    one steward approving a request asked at L3 made a grant of the L4 entry (red team
    59; the policy now also counts two approvers for anything of an L4 entry). The
    levels read are a gateway's (423 while the entry was changed behind it)."""
    dataset = session.get(Dataset, request.dataset_id)
    if dataset is None:
        raise NotFound(f"access request {request.id}'s entry {request.dataset_id!r} is gone")
    require_entry_sealed(session.connection(), dataset)
    needed = required_approvals(dataset, list(request.fields))
    if needed > request.required_approvals:
        request.required_approvals = needed


def reject(
    *, session: Session, approver: UserContext, request: AccessRequest, reason: str
) -> AccessRequest:
    _check_decider(approver, request)
    if request.status != "pending":
        raise Conflict(f"access request {request.id} is {request.status}, not pending")
    request.status = "rejected"
    request.decided_by = approver.subject
    request.reason = reason
    return request


def revoke(
    *, session: Session, actor: UserContext, request: AccessRequest, reason: str
) -> AccessRequest:
    """A steward of the owning department (or the requester) ends a grant early."""
    if actor.subject != request.requester:
        _check_department(actor, request)
    if request.status not in ("approved", "pending"):
        raise Conflict(f"access request {request.id} is {request.status}")
    request.status = "revoked"
    request.reason = reason
    return request


def _check_department(actor: UserContext, request: AccessRequest) -> None:
    if "admin" not in actor.roles and actor.department != request.department:
        raise Forbidden(f"only stewards of {request.department} decide on this request")


def _check_decider(approver: UserContext, request: AccessRequest) -> None:
    if approver.subject == request.requester:
        raise Forbidden("separation of duties: you cannot decide on your own request")
    _check_department(approver, request)


def check_may_decide(authorizer: RoleAuthorizer, user: UserContext, req: AccessRequest) -> None:
    """casbin: ``access:approve`` in the request's department (403 otherwise); the
    service's own rules (not the requester, not twice) follow in ``approve``."""
    authorizer.check(subject=user.subject, domain=req.department, action="access:approve")


def access_request_event(
    type_: EventType | str, user: UserContext, req: AccessRequest, **extra: Any
) -> AuditEvent:
    return access_event(
        type_=type_,
        actor=Actor.of(user),
        dataset_id=req.dataset_id,
        department=req.department,
        purpose=req.purpose,
        case_ref=req.case_ref,
        details={
            "access_request": req.id,
            "fields": list(req.fields),
            "status": req.status,
            "approvals": [a["by"] for a in req.approvals],
            **extra,
        },
    )


def record_change(
    *, audit: AuditSink, session: Session, user: UserContext, req: AccessRequest,
    event_type: EventType | str, **extra: Any,
) -> AccessRequest:  # fmt: skip
    """Audit first (fail closed), then commit: the change never lands unrecorded.

    The commit is a compare-and-set on the status read (``AccessRequest``'s version
    column): a decision raced by another one (a withdrawal, a rejection) is refused with
    409 and that refusal is on record (``request.refused``) right after its event."""
    request_id = req.id
    with bound_changes(audit, session):  # the row's new state first (catalog.row_bindings)
        audit.append(access_request_event(event_type, user, req, **extra))
        commit_or_conflict(session, request_id)
    return req


def commit_or_conflict(session: Session, request_id: str) -> None:
    """Commit a request's change; a lost compare-and-set on its status is a 409."""
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        raise Conflict(
            f"access request {request_id} was decided by someone else meanwhile; reload it"
        ) from None
