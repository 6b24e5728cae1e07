"""Catalog: search (Chinese and English) with filters, and one entry's page.

Search is ``catalog.service.list_datasets`` — the API's own search and ranking; the
personal-information filter keeps the entries having a field of that category. The
entry page shows the caller's effective access per field from
``gateway.enforcement.query.preview.effective_access``: the same policy decision a
query would get, so the page and the query cannot disagree. Every signed-in user may
browse it (the published catalog is public metadata, as ``GET /api/v1/catalog`` is).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from catalog import service
from catalog.models import Dataset
from catalog.schemas import DatasetOut
from catalog.vocabulary import Level, PICategory
from gateway.enforcement.query.preview import effective_access
from gateway.web.console.caller import Caller, may
from gateway.web.console.guard import ConsoleRoute, console_caller
from gateway.web.console.rendering import render
from gateway.web.console.runtime import get_console

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

LEVELS = [level.value for level in Level]
PI_CATEGORIES = [c.value for c in PICategory if c.value != "none"]


def search(session: Any, *, q: str | None, department: str | None, level: str | None,
           pi: str | None, tag: str | None) -> list[Dataset]:  # fmt: skip
    found = service.list_datasets(session=session, q=q or None, department=department or None,
                                  level=level or None, tag=tag or None)  # fmt: skip
    if pi:
        found = [d for d in found if any(f.pi_category == pi for f in d.fields)]
    return found


@router.get("/console/catalog")
async def catalog_page(
    request: Request,
    q: str = Query("", max_length=200),
    department: str = Query("", max_length=32),
    level: str = Query("", max_length=2),
    pi: str = Query("", max_length=32),
    tag: str = Query("", max_length=100),
    caller: Caller = Depends(console_caller),
) -> Response:
    console = get_console(request)

    def load() -> dict[str, Any]:
        with console.services.sessions() as session:
            results = search(session, q=q, department=department, level=level, pi=pi, tag=tag)
            every = service.list_datasets(session=session)
            return {
                "results": [DatasetOut.model_validate(d) for d in results],
                "departments": service.list_departments(session=session),
                "tags": sorted({t for d in every for t in (d.tags or [])}),
            }

    data = await run_in_threadpool(load)
    return render(request, "catalog.html", q=q, department=department, level=level, pi=pi,
                  tag=tag, levels=LEVELS, pi_categories=PI_CATEGORIES,
                  may_query=may(request, caller, "dataset:query"), **data)  # fmt: skip


@router.get("/console/catalog/{dataset_id}")
async def entry_page(
    request: Request,
    dataset_id: str,
    purpose: str = Query("", max_length=64),
    caller: Caller = Depends(console_caller),
) -> Response:
    console = get_console(request)

    def load() -> dict[str, Any]:
        with console.services.sessions() as session:
            dataset = service.get_dataset(session=session, dataset_id=dataset_id)
            departments = {d.code: d for d in service.list_departments(session=session)}
            entry = DatasetOut.model_validate(dataset)  # ``sealed`` is read in the session
            services = console.services
            # a changed entry serves nothing: no decision over whoever changed it's values
            access = effective_access(
                authorizer=services.authorizer, pdp=services.pdp, limiter=services.limiter,
                max_rows_by_level=services.settings.max_rows_by_level or {},
                session=session, user=caller.user, dataset=dataset,
                purpose=purpose or None, case_ref=None) if entry.sealed else {}  # fmt: skip
            return {"dataset": entry, "publisher": departments.get(dataset.department),
                    "access": access}  # fmt: skip

    data = await run_in_threadpool(load)
    return render(request, "entry.html", **data)
