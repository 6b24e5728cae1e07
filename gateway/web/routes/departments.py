"""``GET /api/v1/departments/{code}``: a publisher of the DCAT catalog, as JSON-LD.

The catalog names each entry's publisher by this IRI, so a harvester that follows it
gets the same ``foaf:Organization`` node (name in Chinese and English, code). Department
names are public metadata, like the published catalog: no token is needed.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from catalog import service
from catalog.dcat import department_document
from gateway.web.deps import get_session
from gateway.web.public_origin import public_base_url

router = APIRouter(tags=["catalog"])


@router.get(
    "/api/v1/departments/{code}",
    response_class=JSONResponse,
    responses={
        200: {"description": "the department as a foaf:Organization",
              "content": {"application/ld+json": {}}},
        404: {"description": "unknown department"},
    },
)  # fmt: skip
def get_department(
    request: Request,
    code: str = Path(max_length=32, description="department code, as in the catalog"),
    session: Session = Depends(get_session),
) -> JSONResponse:
    """The department that publishes catalog entries, as a DCAT-AP agent."""
    dept = service.get_department(session=session, code=code)
    document = department_document(dept=dept, base_url=public_base_url(request))
    return JSONResponse(document, media_type="application/ld+json")
