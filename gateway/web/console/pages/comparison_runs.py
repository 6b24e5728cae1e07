"""Comparisons, continued: saved comparison models (issue 15) — list the ones the
analyst may see, start a run, follow it, and page through its hits.

Every action is the API's handler called with the console's request
(``gateway.web.routes.comparison_models.run_model``, ``comparison_runs.get_run`` and
``get_hits``): the same checks before a run is queued (policy on each side, the
caller's jurisdiction), the same ``comparison_run.requested`` event before the commit,
and reading the hits is on record (``comparison_run.hits_read``) as the API's read is.
The hits are read whole from the run's stored table (bounded by the run) and paged
on the page. On a done run the owner marks leads (``update_lead``), asks for the
re-identification of the hits they select (``access_requests.create`` with a run and
hits), and — once every department approved — sees the released identities
(``get_hits`` with ``reidentified``: re-read and on record at each showing).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from catalog.comparison_models import ComparisonRun
from catalog.errors import BadRequest
from catalog.reidentifications import release_ttl
from gateway.enforcement.comparison import reidentify, run_service
from gateway.enforcement.comparison.run_service import LeadIn, RunIn
from gateway.stewardship.comparison_models import schedules
from gateway.stewardship.comparison_models import service as models
from gateway.stewardship.grants.schemas import ReidentificationIn
from gateway.web.console.caller import Caller
from gateway.web.console.forms import Form
from gateway.web.console.guard import ConsoleRoute, csrf_form, page_permission
from gateway.web.console.pages.audit import model
from gateway.web.console.pages.query import PAGE_SIZES
from gateway.web.console.rendering import left_as_shown, render
from gateway.web.console.runtime import get_console
from gateway.web.routes import access_requests as requests_api
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
        visible = models.list_visible(session, caller.user, reviewer=False)
        found = [models.summary(m, v) for m, v in visible]
        ttl = run_service.keeping(get_console(request).services)
        runs = [run_service.run_view(session, r, ttl=ttl)
                for r in run_service.list_runs(session, caller.user)[:20]]  # fmt: skip
        planned = {m.id: [schedules.view(s) for s in
                          schedules.listing(session, m, caller.user, reviewer=False)]
                   for m, _ in visible}  # fmt: skip
        return {"models": found, "runs": runs, "schedules": planned}
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


def _read(request: Request, caller: Caller, run_id: str, identities: bool) -> dict[str, Any]:
    session = _session(request)
    try:
        view = runs_api.get_run(request, run_id, caller.user, session)
        hits: dict[str, Any] = {}
        released: dict[str, Any] = {}
        approved: list[int] = []
        if view["status"] == "done" and not view["expired"]:
            answer = runs_api.get_hits(request, run_id, "json", False, caller.user, session)
            hits = json.loads(bytes(answer.body))
            if view["owner"] == caller.user.subject:
                run = run_service.visible_run(session, run_id, caller.user, reviewer=False)
                ttl = release_ttl(get_console(request).services.settings)
                approved = reidentify.approved(session, run, caller.user, ttl=ttl)[0]
            if identities and approved:
                answer = runs_api.get_hits(request, run_id, "json", False, caller.user, session,
                                           reidentified=True)  # fmt: skip
                released = json.loads(bytes(answer.body))
        return {"run": view, "hits": hits, "released": released, "approved": approved}
    finally:
        session.close()


@router.get("/console/comparisons/runs/{run_id}")
async def run_page(
    request: Request, run_id: str,
    page: int = Query(1, ge=1, le=100_000), size: int = Query(PAGE_SIZES[0]),
    identities: bool = Query(False), caller: Caller = Depends(may_compare),
) -> Response:  # fmt: skip
    if size not in PAGE_SIZES:
        raise BadRequest(f"page size is one of {PAGE_SIZES}")
    data = await run_in_threadpool(_read, request, caller, _checked(run_id, "run"), identities)
    rows = data["hits"].get("rows") or []
    start = (page - 1) * size
    released = data["released"]
    return render(request, "comparison_run.html", run=data["run"],
                  columns=data["hits"].get("columns") or [], rows=rows[start:start + size],
                  total=len(rows), page=page, size=size, more=len(rows) > page * size,
                  approved=data["approved"], released_columns=released.get("columns") or [],
                  released=released.get("rows") or [],
                  mine=data["run"]["owner"] == caller.user.subject)  # fmt: skip


def _in_session(request: Request, work: Any) -> Any:
    session = _session(request)
    try:
        return work(session)
    finally:
        session.close()


@router.post("/console/comparisons/runs/{run_id}/reidentify")
async def ask_reidentification(
    request: Request, run_id: str,
    caller: Caller = Depends(may_compare), form: Form = Depends(csrf_form),
) -> Response:  # fmt: skip
    """Ask for the real identities behind the selected hits (the API's create)."""
    try:
        hits = [int(h) for h in form.getlist("hits")]
    except ValueError:
        raise BadRequest("hits: whole numbers") from None
    run_id = _checked(run_id, "run")

    def ask(session: Session) -> Any:
        # the purpose and case the page offered are the run's (its form prefilled with
        # them, printed through ``shown``): left as offered, they are the run's own — a
        # case reference with an invisible character was filed as its ``\\uXXXX``
        # display, a case nobody gave (red team 64); another run's is never read
        run = session.get(ComparisonRun, run_id)
        purpose, case_ref = None, None
        if run is not None and run.owner == caller.user.subject:
            purpose, case_ref = run.purpose, run.case_ref
        body = model(ReidentificationIn, run=run_id, hits=hits,
                     purpose=left_as_shown(form.get("purpose"), purpose),
                     case_ref=left_as_shown(form.get("case_ref"), case_ref),
                     justification=form.get("justification").strip())  # fmt: skip
        return requests_api.create(body=body, request=request, user=caller.user, session=session)

    await run_in_threadpool(_in_session, request, ask)
    return RedirectResponse(f"/console/comparisons/runs/{run_id}?asked=1", status_code=303)


@router.post("/console/comparisons/runs/{run_id}/leads")
async def mark_lead(
    request: Request, run_id: str,
    caller: Caller = Depends(may_compare), form: Form = Depends(csrf_form),
) -> Response:  # fmt: skip
    """Mark one hit as a lead (the API's PATCH)."""
    try:
        hit_id = int(form.get("hit_id"))
    except ValueError:
        raise BadRequest("hit: a whole number") from None
    rectified = form.get("rectified_on").strip() or None
    body = model(LeadIn, state=form.get("state"), note=form.get("note").strip(),
                 rectified_on=rectified)  # fmt: skip
    await run_in_threadpool(_in_session, request, lambda session: runs_api.update_lead(
        body, request, _checked(run_id, "run"), hit_id, caller.user, session))  # fmt: skip
    return RedirectResponse(f"/console/comparisons/runs/{run_id}", status_code=303)
