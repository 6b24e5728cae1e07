"""Steward routes: register and inspect sources, draft, classify and publish entries.

Thin shells over ``gateway.stewardship.registration``: authentication is the ``current_user``
dependency, authorization (casbin + the department rule) happens in the service layer,
and each route commits its own unit of work only after the service succeeded, so a
failed registration saves nothing. Responses carry a source's ``redacted`` form only.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from catalog.schemas import DatasetPatch, StewardDatasetOut
from gateway.core.services import Services
from gateway.stewardship import registration
from gateway.stewardship.registration.schemas import (
    DraftIn,
    DriftReport,
    IntrospectIn,
    ObjectProposal,
    SourceDeregistered,
    SourceIn,
    SourceOut,
    SourceUpdate,
)
from gateway.web.current_user import audited_user, current_user
from gateway.web.deps import get_services, get_session
from policies.decision import UserContext

router = APIRouter(tags=["sources"])


@router.post("/api/v1/sources", status_code=201, response_model=SourceOut)
def register_source(
    body: SourceIn,
    user: UserContext = Depends(audited_user),
    session: Session = Depends(get_session),
    services: Services = Depends(get_services),
) -> SourceOut:
    """Register a source; its connection is tested before anything is saved."""
    source = registration.register_source(
        session=session,
        services=services,
        user=user,
        source_id=body.id,
        department=body.department,
        kind=body.kind,
        display_name=body.display_name,
        settings=body.settings,
        secret=body.secret,
    )
    session.commit()
    return SourceOut.of(source)


@router.get("/api/v1/sources", response_model=list[SourceOut])
def list_sources(
    user: UserContext = Depends(current_user),
    session: Session = Depends(get_session),
    services: Services = Depends(get_services),
) -> list[SourceOut]:
    found = registration.list_sources(session=session, authorizer=services.authorizer, user=user)
    return [SourceOut.of(s) for s in found]


@router.get("/api/v1/sources/{source_id}", response_model=SourceOut)
def get_source(
    source_id: str,
    user: UserContext = Depends(current_user),
    session: Session = Depends(get_session),
    services: Services = Depends(get_services),
) -> SourceOut:
    return SourceOut.of(registration.get_source(session=session, authorizer=services.authorizer,
                                                user=user, source_id=source_id))  # fmt: skip


@router.patch("/api/v1/sources/{source_id}", response_model=SourceOut)
def update_source(
    source_id: str,
    body: SourceUpdate,
    user: UserContext = Depends(audited_user),
    session: Session = Depends(get_session),
    services: Services = Depends(get_services),
) -> SourceOut:
    """Rename a source or change its connection (tested again before saving)."""
    source = registration.update_source(
        session=session,
        services=services,
        user=user,
        source_id=source_id,
        display_name=body.display_name,
        settings=body.settings,
        secret=body.secret,
    )
    session.commit()
    return SourceOut.of(source)


@router.delete("/api/v1/sources/{source_id}", response_model=SourceDeregistered)
def deregister_source(
    source_id: str,
    request: Request,
    user: UserContext = Depends(audited_user),
    session: Session = Depends(get_session),
    services: Services = Depends(get_services),
) -> SourceDeregistered:
    """Deregister a source (a steward of its department): its entries are unpublished
    first, its stored secret deleted, the action on record; the id is never reused.
    No 409 for work in progress: running queries finish on the connection they hold,
    and a comparison run's stored result is already masked and on record."""
    unpublished = registration.deregister_source(
        session=session, services=services, user=user, source_id=source_id
    )
    session.commit()
    request.app.state.broker.sources.forget(source_id)  # its credentials leave memory too
    return SourceDeregistered(id=source_id, unpublished=unpublished)


@router.post("/api/v1/sources/{source_id}/introspect", response_model=list[ObjectProposal])
def introspect(
    source_id: str,
    body: IntrospectIn | None = None,
    user: UserContext = Depends(audited_user),
    session: Session = Depends(get_session),
    services: Services = Depends(get_services),
) -> list[ObjectProposal]:
    """Objects, columns and a proposed classification per column (bounded sample)."""
    return registration.introspect(
        session=session,
        services=services,
        user=user,
        source_id=source_id,
        objects=body.objects if body else None,
    )


@router.post("/api/v1/datasets", status_code=201, response_model=StewardDatasetOut)
def create_draft(
    body: DraftIn,
    user: UserContext = Depends(audited_user),
    session: Session = Depends(get_session),
    services: Services = Depends(get_services),
) -> StewardDatasetOut:
    """A draft catalog entry from one source object, pre-classified by suggestions."""
    dataset = registration.create_draft(
        session=session,
        services=services,
        user=user,
        source_id=body.source_id,
        object_name=body.object_name,
        dataset_id=body.dataset_id,
        title_zh=body.title_zh,
        title_en=body.title_en,
        description_zh=body.description_zh,
        description_en=body.description_en,
        allowed_purposes=body.allowed_purposes,
        tags=body.tags,
    )
    session.commit()
    return StewardDatasetOut.of(dataset)


@router.patch("/api/v1/datasets/{dataset_id}", response_model=StewardDatasetOut)
def update_dataset(
    dataset_id: str,
    body: DatasetPatch,
    user: UserContext = Depends(audited_user),
    session: Session = Depends(get_session),
    services: Services = Depends(get_services),
) -> StewardDatasetOut:
    """Classify fields, set titles, purposes, tags and the region field."""
    dataset = registration.update_dataset(
        session=session, services=services, user=user, dataset_id=dataset_id, patch=body
    )
    session.commit()
    return StewardDatasetOut.of(dataset)


@router.post("/api/v1/datasets/{dataset_id}/publish", response_model=StewardDatasetOut)
def publish(
    dataset_id: str,
    user: UserContext = Depends(audited_user),
    session: Session = Depends(get_session),
    services: Services = Depends(get_services),
) -> StewardDatasetOut:
    dataset = registration.publish(
        session=session, services=services, user=user, dataset_id=dataset_id
    )
    session.commit()
    return StewardDatasetOut.of(dataset)


@router.post("/api/v1/datasets/{dataset_id}/refresh", response_model=DriftReport)
def refresh(
    dataset_id: str,
    user: UserContext = Depends(audited_user),
    session: Session = Depends(get_session),
    services: Services = Depends(get_services),
) -> DriftReport:
    """Re-introspect the entry's object; report (and apply) added, removed, retyped columns."""
    report = registration.refresh_schema(
        session=session, services=services, user=user, dataset_id=dataset_id
    )
    session.commit()
    return report
