"""Emergency response: suspend a user, freeze a catalog entry, revoke a user's grants.

A security officer (or an admin) acts at once; lifting a suspension or a freeze needs an
admin who is not the one who imposed it. Every action is an audit event (actor, target,
reason, and the ``alert_id`` it answers if given) written before the change commits:
if the trail refuses, nothing changes (fail closed).

An ``alert_id`` must name a known alert (evaluated over the last day, or opened or
acted on before): an unknown id is a 404 before anything is written or committed. Once
the change has committed, the action is added to the alert (``actions`` in
``GET /api/v1/audit/alerts``: action, by, at, target).
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from audit.alert_runner import lookup_alert
from audit.alert_state import alert_states
from audit.event_types import EventType
from audit.log import AuditLog
from audit.records import Actor, emergency_event
from catalog.errors import Conflict, NotFound
from gateway.stewardship.row_trail import bound_changes
from gateway.stewardship.users import emergency
from gateway.web.authz import require
from gateway.web.deps import get_services, get_session
from policies.decision import UserContext

router = APIRouter(prefix="/api/v1", tags=["emergency response"])
log = structlog.get_logger("sluice.emergency")

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class EmergencyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason
    alert_id: str | None = Field(default=None, min_length=1, max_length=128)


def _record(
    request: Request, session: Session, user: UserContext, type_: EventType, resource: str,
    body: EmergencyIn, **details: Any,
) -> None:  # fmt: skip
    """The event first, then the commit: a change is never made off the record."""
    trail = get_services(request).audit
    if body.alert_id is not None:
        _known_alert(trail, body.alert_id)  # nothing is written or committed otherwise
    # the rows' new states first (catalog.row_bindings)
    with bound_changes(trail, session):
        trail.append(emergency_event(type_=type_, actor=Actor.of(user), resource=resource,
                                     reason=body.reason, alert_id=body.alert_id,
                                     details=details))  # fmt: skip
        try:
            session.commit()
        except StaleDataError:
            session.rollback()
            raise Conflict(f"{resource} changed meanwhile; try again") from None
    if body.alert_id is not None and isinstance(trail, AuditLog):
        try:
            alert_states(trail.home).add_action(body.alert_id, action=type_, by=user.subject,
                                                target=resource)  # fmt: skip
        except OSError as exc:  # done and on record in the trail; only the alert view lags
            log.error("alert_action_not_recorded", alert=body.alert_id, action=type_,
                      error=type(exc).__name__)  # fmt: skip


def _known_alert(trail: object, alert_id: str) -> None:
    if not isinstance(trail, AuditLog) or lookup_alert(trail, alert_id) is None:
        raise NotFound(f"no alert {alert_id}: an emergency action can only answer a known "
                       "alert (see GET /api/v1/audit/alerts)")  # fmt: skip


@router.post("/users/{subject}/suspend")
def suspend_user(
    subject: str, body: EmergencyIn, request: Request,
    officer: UserContext = Depends(require("users:suspend")),
    session: Session = Depends(get_session),
) -> dict[str, Any]:  # fmt: skip
    user = emergency.suspend(session=session, officer=officer, subject=subject,
                             reason=body.reason)  # fmt: skip
    _record(request, session, officer, EventType.USER_SUSPENDED, f"user:{subject}", body)
    return emergency.describe_user(user)


@router.post("/users/{subject}/unsuspend")
def unsuspend_user(
    subject: str, body: EmergencyIn, request: Request,
    admin: UserContext = Depends(require("users:unsuspend")),
    session: Session = Depends(get_session),
) -> dict[str, Any]:  # fmt: skip
    user, by = emergency.unsuspend(session=session, admin=admin, subject=subject,
                                   audit=get_services(request).audit)  # fmt: skip
    _record(request, session, admin, EventType.USER_UNSUSPENDED, f"user:{subject}", body,
            suspended_by=by)  # fmt: skip
    return emergency.describe_user(user)


@router.post("/users/{subject}/revoke-grants")
def revoke_user_grants(
    subject: str, body: EmergencyIn, request: Request,
    officer: UserContext = Depends(require("grants:revoke")),
    session: Session = Depends(get_session),
) -> dict[str, Any]:  # fmt: skip
    grants = emergency.revoke_grants(session=session, officer=officer, subject=subject,
                                     reason=body.reason)  # fmt: skip
    ids = [g.id for g in grants]
    _record(request, session, officer, EventType.GRANTS_REVOKED, f"user:{subject}", body,
            access_requests=ids, count=len(ids))  # fmt: skip
    return {"subject": subject, "revoked": ids}


@router.post("/datasets/{dataset_id}/freeze")
def freeze_dataset(
    dataset_id: str, body: EmergencyIn, request: Request,
    officer: UserContext = Depends(require("datasets:freeze")),
    session: Session = Depends(get_session),
) -> dict[str, Any]:  # fmt: skip
    dataset = emergency.freeze(session=session, services=get_services(request), officer=officer,
                               dataset_id=dataset_id, reason=body.reason)  # fmt: skip
    # its department on record: the entry's rows deleted, the freeze still holds its
    # department's entries (``sources.freezes_on_record``); and what it recorded the
    # entry as reading (``record_reads_now``), which decides what else it holds
    _record(request, session, officer, EventType.DATASET_FROZEN, f"dataset:{dataset_id}", body,
            resource_dept=dataset.department, reads=dataset.reads)  # fmt: skip
    return emergency.describe_dataset(dataset)


@router.post("/datasets/{dataset_id}/unfreeze")
def unfreeze_dataset(
    dataset_id: str, body: EmergencyIn, request: Request,
    admin: UserContext = Depends(require("datasets:unfreeze")),
    session: Session = Depends(get_session),
) -> dict[str, Any]:  # fmt: skip
    dataset, by = emergency.unfreeze(session=session, admin=admin, dataset_id=dataset_id)
    _record(request, session, admin, EventType.DATASET_UNFROZEN, f"dataset:{dataset_id}", body,
            frozen_by=by)  # fmt: skip
    return emergency.describe_dataset(dataset)
