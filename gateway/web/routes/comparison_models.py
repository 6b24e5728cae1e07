"""``/api/v1/comparison-models``: shared, versioned matching rules, and running them.

Authoring needs ``compare:author`` (analysts), running ``compare:run``; officers
(``compare:review``) read every model and run, and change none. Every create, change
and run request is on the audit trail before it commits.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from audit.event_types import EventType
from audit.records import Actor, comparison_model_event, comparison_run_event
from catalog.errors import Conflict
from gateway.enforcement.comparison.run_service import RunIn, request_run
from gateway.enforcement.comparison.runs import ModelRunner
from gateway.stewardship.comparison_models import service
from gateway.stewardship.comparison_models.schemas import ModelIn, ModelOut, ModelSummary
from gateway.web.authz import require
from gateway.web.current_user import current_user
from gateway.web.deps import get_services, get_session
from gateway.web.routes.streaming import new_request_ids
from policies.decision import UserContext

router = APIRouter(prefix="/api/v1/comparison-models", tags=["comparison models"])
ModelId = Path(min_length=1, max_length=64)


def is_reviewer(request: Request, user: UserContext) -> bool:
    """Officers review runs and models read-only (casbin ``compare:review``)."""
    return get_services(request).authorizer.allowed(subject=user.subject, domain="*",
                                                    action="compare:review")  # fmt: skip


def runner(request: Request) -> ModelRunner:
    found: ModelRunner = request.app.state.comparison_runs
    return found


@router.get("", response_model=list[ModelSummary])
def list_models(
    request: Request, user: UserContext = Depends(current_user),
    session: Session = Depends(get_session),
) -> list[ModelSummary]:  # fmt: skip
    """The models the caller owns or that are shared with their department or level."""
    visible = service.list_visible(session, user, reviewer=is_reviewer(request, user))
    return [service.summary(m, v) for m, v in visible]


@router.get("/{model_id}", response_model=ModelOut)
def get_model(
    request: Request, model_id: str = ModelId,
    version: int | None = Query(default=None, ge=1, le=1_000_000),
    user: UserContext = Depends(current_user), session: Session = Depends(get_session),
) -> ModelOut:  # fmt: skip
    model = service.get_visible(session, model_id, user, reviewer=is_reviewer(request, user))
    return service.detail(session, model, service.get_version(session, model, version))


@router.post("", status_code=201, response_model=ModelOut)
def create_model(
    body: ModelIn, request: Request, user: UserContext = Depends(require("compare:author")),
    session: Session = Depends(get_session),
) -> ModelOut:  # fmt: skip
    """Stored only if it could run for its author now (fields, types, access)."""
    model, version, _ = service.create_model(services=get_services(request), session=session,
                                             user=user, body=body)  # fmt: skip
    return _recorded(request, session, user, EventType.COMPARISON_MODEL_CREATED, model, version)


@router.put("/{model_id}", response_model=ModelOut)
def update_model(
    body: ModelIn, request: Request, model_id: str = ModelId,
    user: UserContext = Depends(require("compare:author")),
    session: Session = Depends(get_session),
) -> ModelOut:  # fmt: skip
    """A new version (runs name the version they used); only the owner changes a model."""
    model, version, _ = service.update_model(
        services=get_services(request), session=session, user=user, model_id=model_id,
        body=body, reviewer=is_reviewer(request, user),
    )  # fmt: skip
    return _recorded(request, session, user, EventType.COMPARISON_MODEL_UPDATED, model, version)


def _recorded(
    request: Request, session: Session, user: UserContext, type_: EventType,
    model: Any, version: Any,
) -> ModelOut:  # fmt: skip
    # the event first, then the commit; no flush before it: on SQLite the trail shares
    # the catalog's one writer
    get_services(request).audit.append(comparison_model_event(
        type_=type_, actor=Actor.of(user), model_id=model.id, version=version.version,
        details=service.audit_details(version, model),
    ))  # fmt: skip
    model_id, number = model.id, version.version
    try:  # the version's key (model, number) is the compare-and-set: one writer wins
        session.commit()
    except IntegrityError:  # another write made this id or version meanwhile
        session.rollback()
        raise Conflict(f"comparison model {model_id!r} was written by another request "
                       f"meanwhile (version {number}); reload it") from None  # fmt: skip
    return service.detail(session, model, version)


@router.post("/{model_id}/runs", status_code=202)
def run_model(
    body: RunIn, request: Request, model_id: str = ModelId,
    user: UserContext = Depends(require("compare:run")),
    session: Session = Depends(get_session),
) -> dict[str, str]:  # fmt: skip
    """Queue a run: each side will be a governed query prepared by the broker (policy,
    masks, the caller's jurisdiction, its own durable start) before anything is read.
    Refused at once (4xx) when a side would be."""
    services = get_services(request)
    jobs = runner(request)
    model = service.get_visible(session, model_id, user, reviewer=False)
    request_id, client_request_id = new_request_ids(request)
    run = request_run(services=services, session=session, runner=jobs, user=user, model=model,
                      body=body, request_id=request_id)  # fmt: skip
    details: dict[str, Any] = {"model": model.id, "model_version": run.model_version,
                               "engine": run.engine}  # fmt: skip
    if client_request_id is not None:
        details["client_request_id"] = client_request_id
    services.audit.append(comparison_run_event(
        type_=EventType.COMPARISON_RUN_REQUESTED, actor=Actor.of(user), run_id=run.id,
        purpose=run.purpose, case_ref=run.case_ref, request_id=request_id,
        client=request.client.host if request.client else None, details=details,
    ))  # fmt: skip
    session.commit()
    jobs.submit(run.id)
    return {"id": run.id, "status": run.status}
