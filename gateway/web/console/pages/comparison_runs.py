"""Comparisons, continued: saved comparison models (issue 15) — list the ones the
analyst may see, start a run, follow it, and page through its hits.

Every action is the API's handler called with the console's request
(``gateway.web.routes.comparison_models.run_model``, ``comparison_runs.get_run`` and
``get_hits``): the same checks before a run is queued (policy on each side, the
caller's jurisdiction), the same ``comparison_run.requested`` event before the commit,
and reading the hits is on record (``comparison_run.hits_read``) as the API's read is.
The hits are read whole from the run's stored table (bounded by the run) and paged
on the page.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from catalog.errors import BadRequest
from gateway.enforcement.comparison import run_service
from gateway.enforcement.comparison.run_service import RunIn
from gateway.stewardship.comparison_models import service as models
from gateway.web.console.caller import Caller
from gateway.web.console.forms import Form
from gateway.web.console.guard import ConsoleRoute, csrf_form, page_permission
from gateway.web.console.pages.audit import model
from gateway.web.console.pages.query import PAGE_SIZES
from gateway.web.console.rendering import render
from gateway.web.console.runtime import get_console
from gateway.web.routes import comparison_models as models_api
from gateway.web.routes import comparison_runs as runs_api

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
may_compare = page_permission("compare:run")
MAX_ID = 64


def _session(request: Request) -> Session:
    return get_console(request).services.sessions()


def models_and_runs(request: Request, caller: Caller) -> dict[str, Any]:
    """For the comparisons page: the models the caller may run and their own runs."""
    session = _session(request)
    try:
        found = [models.summary(m, v) for m, v in
                 models.list_visible(session, caller.user, reviewer=False)]  # fmt: skip
        runs = [run_service.run_view(session, r)
                for r in run_service.list_runs(session, caller.user)[:20]]  # fmt: skip
        return {"models": found, "runs": runs}
    finally:
        session.close()


def _checked(value: str, name: str) -> str:
    if not value or len(value) > MAX_ID:
        raise BadRequest(f"{name}: 1 to {MAX_ID} characters")
    return value


@router.post("/console/comparisons/models/{model_id}/run")
async def run_model(
    request: Request, model_id: str,
    caller: Caller = Depends(may_compare), form: Form = Depends(csrf_form),
) -> Response:  # fmt: skip
    body = model(RunIn, purpose=form.get("purpose").strip(),
                 case_ref=form.get("case_ref").strip())  # fmt: skip
    _checked(model_id, "model")

    def start() -> dict[str, str]:
        session = _session(request)
        try:
            return models_api.run_model(body, request, model_id, caller.user, session)
        finally:
            session.close()

    run = await run_in_threadpool(start)
    return RedirectResponse(f"/console/comparisons/runs/{run['id']}", status_code=303)


def _read(request: Request, caller: Caller, run_id: str) -> dict[str, Any]:
    session = _session(request)
    try:
        view = runs_api.get_run(request, run_id, caller.user, session)
        hits: dict[str, Any] = {}
        if view["status"] == "done" and not view["expired"]:
            answer = runs_api.get_hits(request, run_id, "json", False, caller.user, session)
            hits = json.loads(bytes(answer.body))
        return {"run": view, "hits": hits}
    finally:
        session.close()


@router.get("/console/comparisons/runs/{run_id}")
async def run_page(
    request: Request, run_id: str,
    page: int = Query(1, ge=1, le=100_000), size: int = Query(PAGE_SIZES[0]),
    caller: Caller = Depends(may_compare),
) -> Response:  # fmt: skip
    if size not in PAGE_SIZES:
        raise BadRequest(f"page size is one of {PAGE_SIZES}")
    data = await run_in_threadpool(_read, request, caller, _checked(run_id, "run"))
    rows = data["hits"].get("rows") or []
    start = (page - 1) * size
    return render(request, "comparison_run.html", run=data["run"],
                  columns=data["hits"].get("columns") or [], rows=rows[start:start + size],
                  total=len(rows), page=page, size=size,
                  more=len(rows) > page * size)  # fmt: skip
