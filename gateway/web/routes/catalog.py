"""Catalog routes: search and read published entries, and the DCAT (JSON-LD) export.

Thin shells over ``catalog.service``; drafts are invisible here (404). The published
catalog is public metadata (DCAT harvesting); a signed-in caller also sees their own
effective access per field. ``catalog.jsonld``
is declared before ``catalog/{dataset_id}`` so it is not taken for a dataset id.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from catalog import service
from catalog.dcat import catalog_document
from catalog.schemas import DatasetOut
from gateway.enforcement.query.preview import effective_access
from gateway.web.current_user import optional_user
from gateway.web.deps import get_services, get_session
from gateway.web.public_origin import public_base_url
from policies.decision import UserContext

router = APIRouter(tags=["catalog"])


@router.get("/api/v1/catalog", response_model=list[DatasetOut])
def search_catalog(
    q: str | None = Query(
        None, max_length=200, description="text in titles, tags, fields (中文/English)"
    ),
    department: str | None = Query(None, max_length=32, description="department code"),
    level: str | None = Query(None, max_length=2, description="L1, L2, L3 or L4"),
    tag: str | None = Query(None, max_length=100, description="exact tag"),
    session: Session = Depends(get_session),
) -> list[DatasetOut]:
    """Published catalog entries matching the filters, best match first."""
    found = service.list_datasets(session=session, q=q, department=department, level=level, tag=tag)
    return [DatasetOut.model_validate(d) for d in found]


@router.get(
    "/api/v1/catalog.jsonld",
    response_class=JSONResponse,
    responses={200: {"description": "DCAT-AP 3 catalog: entries, distributions, the query "
                     "service, publishers, ODRL purpose policies",
                     "content": {"application/ld+json": {}}}},
)  # fmt: skip
def catalog_jsonld(request: Request, session: Session = Depends(get_session)) -> JSONResponse:
    """The published catalog as a DCAT ``dcat:Catalog`` in JSON-LD, for harvesting portals
    (``catalog.dcat`` says which standard terms it uses and why). An entry that does not
    verify (``Dataset.sealed``: changed behind the gateway) is left out until restored:
    the document carries no such mark, and a harvester took an insider's levels and
    purposes for the gateway's own word (red team 59)."""
    document: dict[str, Any] = catalog_document(
        datasets=[d for d in service.list_datasets(session=session) if d.sealed],
        departments=service.list_departments(session=session),
        base_url=public_base_url(request),
    )
    return JSONResponse(document, media_type="application/ld+json")


class CatalogEntryOut(DatasetOut):
    access: dict[str, Any] | None = None


@router.get("/api/v1/catalog/{dataset_id}", response_model=CatalogEntryOut)
def get_catalog_entry(
    dataset_id: str,
    request: Request,
    purpose: str | None = Query(None, max_length=64, description="purpose to evaluate"),
    case_ref: str | None = Query(None, max_length=128, description="case reference"),
    user: UserContext | None = Depends(optional_user),
    session: Session = Depends(get_session),
) -> CatalogEntryOut:
    """One published entry with its fields' classification; with a bearer token, also
    the caller's effective access per field (allow / mask with method / deny), unless
    the entry's record does not verify (``sealed`` false: queries refuse it, and no
    decision is made over values an insider wrote, as on the console's entry page)."""
    dataset = service.get_dataset(session=session, dataset_id=dataset_id)
    entry = CatalogEntryOut.model_validate(DatasetOut.model_validate(dataset).model_dump())
    if user is not None and entry.sealed:
        services = get_services(request)
        entry.access = effective_access(
            authorizer=services.authorizer,
            pdp=services.pdp,
            limiter=services.limiter,
            max_rows_by_level=services.settings.max_rows_by_level or {},
            session=session,
            user=user,
            dataset=dataset,
            purpose=purpose,
            case_ref=case_ref,
        )
    return entry
