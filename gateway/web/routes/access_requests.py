"""Access requests: analysts ask; stewards of the owning department decide.

A request names either an entry's fields (an access request: a grant the policy reads)
or a comparison run and hits of it (a re-identification: ``ri_`` ids, decided by a
steward of each source department of the run's model). Both share the paths below;
the id says which service decides.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from audit.event_types import EventType
from catalog import service as catalog
from catalog.access_requests import AccessRequest
from catalog.errors import NotFound
from catalog.reidentifications import PREFIX as REID
from catalog.reidentifications import ReidentificationRequest
from gateway.enforcement.comparison import run_service
from gateway.stewardship.grants import reidentification as reid
from gateway.stewardship.grants import service
from gateway.stewardship.grants.schemas import (
    AccessRequestIn,
    AccessRequestOut,
    DecisionIn,
    ReidentificationIn,
    ReidentificationOut,
)
from gateway.web.current_user import audited_user, current_user
from gateway.web.deps import get_services, get_session
from policies.decision import UserContext

router = APIRouter(prefix="/api/v1/access-requests", tags=["access requests"])
AnyRequestOut = AccessRequestOut | ReidentificationOut


def _reid_recorded(request: Request, session: Session, user: UserContext,
                   req: ReidentificationRequest, event: EventType,
                   **extra: object) -> ReidentificationOut:  # fmt: skip
    reid.record(audit=get_services(request).audit, session=session, user=user, req=req,
                event_type=event, **extra)  # fmt: skip
    return ReidentificationOut.of(req)


def _recorded(request: Request, session: Session, user: UserContext, req: AccessRequest,
              event: EventType, **extra: object) -> AccessRequestOut:  # fmt: skip
    service.record_change(audit=get_services(request).audit, session=session, user=user,
                          req=req, event_type=event, **extra)  # fmt: skip
    return AccessRequestOut.model_validate(req)


@router.post("", status_code=201, response_model=AnyRequestOut)
def create(
    body: AccessRequestIn | ReidentificationIn,
    request: Request,
    user: UserContext = Depends(audited_user),
    session: Session = Depends(get_session),
) -> AnyRequestOut:
    """Ask for an entry's fields (``dataset``, ``fields``, ``days``) or for the real
    identities behind hits of your own done run (``run``, ``hits``)."""
    services = get_services(request)
    if isinstance(body, ReidentificationIn):
        services.authorizer.check(subject=user.subject, domain="*", action="compare:run")
        ask = reid.create(session=session, user=user, run_id=body.run, hit_ids=body.hits,
                          purpose=body.purpose, case_ref=body.case_ref,
                          justification=body.justification,
                          require_kept=partial(run_service.require_kept, services))  # fmt: skip
        return _reid_recorded(request, session, user, ask, EventType.REIDENTIFICATION_REQUESTED)
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
    return _recorded(request, session, user, req, EventType.ACCESS_REQUESTED)


@router.get("", response_model=list[AnyRequestOut])
def list_requests(
    request: Request,
    user: UserContext = Depends(current_user),
    session: Session = Depends(get_session),
) -> list[AnyRequestOut]:
    """The caller's own requests and, for stewards, those of their department."""
    services = get_services(request)
    departments = service.steward_departments(services.authorizer, user)
    found = service.list_requests(session=session, user=user, approver_departments=departments)
    asks = reid.list_for(session=session, authorizer=services.authorizer, user=user)
    mine: list[AnyRequestOut] = [AccessRequestOut.model_validate(r) for r in found]
    return mine + [ReidentificationOut.of(r) for r in asks]


@router.get("/{request_id}", response_model=AnyRequestOut)
def get_one(
    request_id: str,
    request: Request,
    user: UserContext = Depends(current_user),
    session: Session = Depends(get_session),
) -> AnyRequestOut:
    services = get_services(request)
    if request_id.startswith(REID):
        ask = reid.get(session=session, request_id=request_id)
        if not reid.visible(services.authorizer, user, ask):
            raise NotFound(f"no access request {request_id}")
        return ReidentificationOut.of(ask)
    req = service.get_request(session=session, request_id=request_id)
    # both gates, as the list and every decision: the steward's role in the request's
    # department *and* that department their own (a steward moved elsewhere keeps no view)
    if req.requester != user.subject and req.department not in service.steward_departments(
        services.authorizer, user
    ):
        raise NotFound(f"no access request {request_id}")
    return AccessRequestOut.model_validate(req)


@router.post("/{request_id}/approve", response_model=AnyRequestOut)
def approve(
    request_id: str,
    request: Request,
    user: UserContext = Depends(audited_user),
    session: Session = Depends(get_session),
) -> AnyRequestOut:
    authorizer = get_services(request).authorizer
    now = datetime.now(UTC)
    if request_id.startswith(REID):
        ask = reid.get(session=session, request_id=request_id)
        ask = reid.approve(authorizer=authorizer, approver=user, req=ask, now=now,
                           require_kept=partial(run_service.require_kept,
                                                get_services(request)))  # fmt: skip
        return _reid_recorded(request, session, user, ask, EventType.REIDENTIFICATION_APPROVED)
    req = service.get_request(session=session, request_id=request_id)
    service.check_may_decide(authorizer, user, req)
    req = service.approve(
        session=session, approver=user, request=req, now=now, trail=get_services(request).audit
    )
    return _recorded(request, session, user, req, EventType.ACCESS_APPROVED)


@router.post("/{request_id}/reject", response_model=AnyRequestOut)
def reject(
    request_id: str,
    body: DecisionIn,
    request: Request,
    user: UserContext = Depends(audited_user),
    session: Session = Depends(get_session),
) -> AnyRequestOut:
    authorizer = get_services(request).authorizer
    if request_id.startswith(REID):
        ask = reid.get(session=session, request_id=request_id)
        ask = reid.reject(authorizer=authorizer, approver=user, req=ask, reason=body.reason)
        return _reid_recorded(request, session, user, ask, EventType.REIDENTIFICATION_REJECTED,
                              reason=body.reason)  # fmt: skip
    req = service.get_request(session=session, request_id=request_id)
    service.check_may_decide(authorizer, user, req)
    req = service.reject(session=session, approver=user, request=req, reason=body.reason)
    return _recorded(request, session, user, req, EventType.ACCESS_REJECTED, reason=body.reason)


@router.post("/{request_id}/revoke", response_model=AnyRequestOut)
def revoke(
    request_id: str,
    body: DecisionIn,
    request: Request,
    user: UserContext = Depends(audited_user),
    session: Session = Depends(get_session),
) -> AnyRequestOut:
    authorizer = get_services(request).authorizer
    if request_id.startswith(REID):
        ask = reid.get(session=session, request_id=request_id)
        ask = reid.revoke(authorizer=authorizer, actor=user, req=ask, reason=body.reason)
        return _reid_recorded(request, session, user, ask, EventType.REIDENTIFICATION_REVOKED,
                              reason=body.reason)  # fmt: skip
    req = service.get_request(session=session, request_id=request_id)
    if req.requester != user.subject:
        service.check_may_decide(authorizer, user, req)
    req = service.revoke(session=session, actor=user, request=req, reason=body.reason)
    return _recorded(request, session, user, req, EventType.ACCESS_REVOKED, reason=body.reason)
