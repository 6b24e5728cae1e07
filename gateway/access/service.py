"""Access requests: ask, approve (by someone else), reject, revoke; active grants.

Functions change rows in the session without flushing: the route appends the audit
event first and then commits, so no write lock is held while the audit store writes.

Checks and balances live here and are re-checked by the Rego policy: an approver is
never the requester, nobody approves twice, and releasing L4 fields needs two
different stewards of the owning department.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select
from sqlalchemy.orm import Session

from catalog.errors import BadRequest, Conflict, Forbidden, NotFound
from catalog.models import Dataset
from gateway.access.models import AccessRequest, new_request_id
from policies.decision import UserContext
from policies.inputs import grant_input

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


def list_requests(
    *, session: Session, user: UserContext, approver_departments: list[str]
) -> list[AccessRequest]:
    """The caller's own requests plus those they may decide on."""
    clauses = [AccessRequest.requester == user.subject]
    if approver_departments:
        clauses.append(AccessRequest.department.in_(approver_departments))
    stmt = select(AccessRequest).where(or_(*clauses)).order_by(AccessRequest.id.desc())
    return list(session.scalars(stmt))


def approve(
    *, session: Session, approver: UserContext, request: AccessRequest, now: datetime
) -> AccessRequest:
    _check_decider(approver, request)
    if request.status != "pending":
        raise Conflict(f"access request {request.id} is {request.status}, not pending")
    if any(a["by"] == approver.subject for a in request.approvals):
        raise Forbidden("you have already approved this request; a second steward must approve")
    approvals = [*request.approvals, {"by": approver.subject, "at": now.isoformat()}]
    request.approvals = approvals
    if len({a["by"] for a in approvals}) >= request.required_approvals:
        request.status = "approved"
        request.approved_at = now
        request.expires_at = now + timedelta(days=request.days)
        request.decided_by = approver.subject
    return request


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


def active_grants(
    *,
    conn: Connection,
    subject: str,
    dataset_id: str,
    now: datetime,
    purpose: str | None,
    case_ref: str | None,
) -> list[dict[str, Any]]:
    """Approved, unexpired grants of one user on one dataset for this purpose and case,
    as the policy input wants. A grant is approved for a case: it never unmasks data
    under another case reference or purpose (data used within its stated scope)."""
    rows = approved_grant_rows(
        conn=conn, subject=subject, dataset_id=dataset_id, purpose=purpose, case_ref=case_ref
    )
    return unexpired_grants(rows, now)


def approved_grant_rows(
    *, conn: Connection, subject: str, dataset_id: str, purpose: str | None,
    case_ref: str | None,
) -> tuple[Any, ...]:  # fmt: skip
    """The approved requests themselves, whatever their expiry: what may be cached until
    the catalog generation moves (expiry is checked against the clock on every use)."""
    # Core rows, not ORM objects: this runs whenever the catalog changed
    table = AccessRequest.__table__.c
    stmt = select(
        table.id, table.dataset_id, table.fields, table.approvals, table.status,
        table.requester, table.expires_at,
    ).where(
        table.requester == subject,
        table.dataset_id == dataset_id,
        table.status == "approved",
        table.purpose == (purpose or ""),
        table.case_ref == (case_ref or ""),
    )
    return tuple(conn.execute(stmt).all())


def unexpired_grants(rows: tuple[Any, ...], now: datetime) -> list[dict[str, Any]]:
    grants = []
    for request in rows:
        expires = request.expires_at
        if expires is None:
            continue
        if expires.tzinfo is None:  # SQLite drops the zone; we always store UTC
            expires = expires.replace(tzinfo=now.tzinfo)
        if expires <= now:
            continue
        grants.append(_grant(request, expires))
    return grants


def _grant(request: Any, expires: datetime) -> dict[str, Any]:
    return grant_input(
        id=str(request.id),
        dataset=request.dataset_id,
        fields=request.fields,
        expires_at=expires,
        approvals=[a["by"] for a in request.approvals],
        status=request.status,
        requester=request.requester,
    )
