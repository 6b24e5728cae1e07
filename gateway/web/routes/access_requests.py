"""Access requests: analysts ask; stewards of the owning department decide."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from audit.event_types import EventType
from audit.records import Actor, AuditEvent, access_event
from catalog import service as catalog
from catalog.access_requests import AccessRequest
from catalog.errors import Conflict, NotFound
from gateway.stewardship.grants import service
from gateway.stewardship.grants.schemas import AccessRequestIn, AccessRequestOut, DecisionIn
from gateway.web.current_user import current_user
from gateway.web.deps import get_services, get_session
from policies.decision import UserContext

router = APIRouter(prefix="/api/v1/access-requests", tags=["access requests"])


def _event(type_: EventType | str, user: UserContext, req: AccessRequest,
           **extra: Any) -> AuditEvent:  # fmt: skip
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


@router.post("", status_code=201, response_model=AccessRequestOut)
def create(
    body: AccessRequestIn,
    request: Request,
    user: UserContext = Depends(current_user),
    session: Session = Depends(get_session),
) -> AccessRequest:
    services = get_services(request)
    dataset = catalog.get_dataset(session=session, dataset_id=body.dataset)
    services.authorizer.check(
        subject=user.subject, domain=dataset.department, action="access:request"
    )
    req = service.create_request(
        session=session,
        user=user,
        dataset=dataset,
        fields=body.fields,
        purpose=body.purpose,
        case_ref=body.case_ref,
        justification=body.justification,
        days=body.days,
    )
    return _record(request, session, user, req, "access.requested")


@router.get("", response_model=list[AccessRequestOut])
def list_requests(
    request: Request,
    user: UserContext = Depends(current_user),
    session: Session = Depends(get_session),
) -> list[AccessRequest]:
    """The caller's own requests and, for stewards, those of their department."""
    services = get_services(request)
    departments = [
        domain
        for role, domain in services.authorizer.roles_of(user.subject)
        if role == "steward" and domain != "*"
    ]
    return service.list_requests(session=session, user=user, approver_departments=departments)


@router.get("/{request_id}", response_model=AccessRequestOut)
def get_one(
    request_id: str,
    request: Request,
    user: UserContext = Depends(current_user),
    session: Session = Depends(get_session),
) -> AccessRequest:
    req = service.get_request(session=session, request_id=request_id)
    services = get_services(request)
    if req.requester != user.subject and not services.authorizer.allowed(
        subject=user.subject, domain=req.department, action="access:approve"
    ):
        raise NotFound(f"no access request {request_id}")
    return req


def _record(
    request: Request,
    session: Session,
    user: UserContext,
    req: AccessRequest,
    event_type: EventType | str,
    **extra: Any,
) -> AccessRequest:
    """Audit first (fail closed), then commit: the change never lands unrecorded.

    The commit is a compare-and-set on the status read (``AccessRequest``'s version
    column): a decision raced by another one (a withdrawal, a rejection) is refused with
    409 and that refusal is on record (``request.refused``) right after its event."""
    request_id = req.id
    get_services(request).audit.append(_event(event_type, user, req, **extra))
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        raise Conflict(
            f"access request {request_id} was decided by someone else meanwhile; reload it"
        ) from None
    return req


def _decide(request: Request, user: UserContext, req: AccessRequest) -> None:
    get_services(request).authorizer.check(
        subject=user.subject, domain=req.department, action="access:approve"
    )


@router.post("/{request_id}/approve", response_model=AccessRequestOut)
def approve(
    request_id: str,
    request: Request,
    user: UserContext = Depends(current_user),
    session: Session = Depends(get_session),
) -> AccessRequest:
    req = service.get_request(session=session, request_id=request_id)
    _decide(request, user, req)
    req = service.approve(session=session, approver=user, request=req, now=datetime.now(UTC))
    return _record(request, session, user, req, "access.approved")


@router.post("/{request_id}/reject", response_model=AccessRequestOut)
def reject(
    request_id: str,
    body: DecisionIn,
    request: Request,
    user: UserContext = Depends(current_user),
    session: Session = Depends(get_session),
) -> AccessRequest:
    req = service.get_request(session=session, request_id=request_id)
    _decide(request, user, req)
    req = service.reject(session=session, approver=user, request=req, reason=body.reason)
    return _record(request, session, user, req, "access.rejected", reason=body.reason)


@router.post("/{request_id}/revoke", response_model=AccessRequestOut)
def revoke(
    request_id: str,
    body: DecisionIn,
    request: Request,
    user: UserContext = Depends(current_user),
    session: Session = Depends(get_session),
) -> AccessRequest:
    req = service.get_request(session=session, request_id=request_id)
    if req.requester != user.subject:
        _decide(request, user, req)
    req = service.revoke(session=session, actor=user, request=req, reason=body.reason)
    return _record(request, session, user, req, "access.revoked", reason=body.reason)
