"""Comparisons (analysts, ``compare:run``): two catalog entries matched on a key, the
matches paged; and the saved models (``comparison_runs``: list, run, follow).

No second code path: the form becomes the API's ``ComparisonBody`` and goes to the same
``Comparer`` as ``POST /api/v1/comparisons`` (each side a governed query with its own
decision, masks, row filter and audit record; keys matched as tokens under the case
key, so no ID number leaves the gateway). The answer is the API's JSON, taken whole
and ended on record like any API answer. Paging asks the comparer again for the
first ``page × size + 1`` matches (the API has a ``limit``, not an offset): every page
is a run on record, as every query page is.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from catalog import service
from catalog.errors import BadRequest, Forbidden
from catalog.schemas import DatasetOut
from gateway.enforcement.comparison.schemas import ComparisonBody
from gateway.enforcement.comparison.service import Comparer
from gateway.enforcement.query.context import Origin
from gateway.web.console.caller import Caller, in_session
from gateway.web.console.forms import Form
from gateway.web.console.guard import ConsoleRoute, csrf_form, page_permission, refusal_shown
from gateway.web.console.pages.comparison_runs import models_and_runs
from gateway.web.console.pages.query import OPS, PAGE_SIZES
from gateway.web.console.rendering import render
from gateway.web.console.runtime import get_console
from gateway.web.current_user import account_read_at
from gateway.web.routes.streaming import new_request_ids, rechecks, take_whole

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
may_compare = page_permission("compare:run")
SIDES = ("left", "right")


def _names(raw: str) -> list[str]:
    return [p.strip() for p in raw.replace("，", ",").split(",") if p.strip()]


def _side(form: Form, side: str) -> dict[str, Any]:
    where = []
    name, op, raw = (form.get(f"{side}_where_field").strip(), form.get(f"{side}_where_op"),
                     form.get(f"{side}_where_value"))  # fmt: skip
    if name:
        if op not in OPS:
            raise BadRequest(f"unknown condition {op!r}")
        where.append({"field": name, "op": op, "value": _names(raw) if op == "in" else raw})
    return {"dataset": form.get(f"{side}_dataset"), "key": form.get(f"{side}_key").strip(),
            "fields": _names(form.get(f"{side}_fields")), "where": where}  # fmt: skip


def comparison_body(form: Form) -> tuple[ComparisonBody, int, int]:
    """The form as the API's ``ComparisonBody`` (limit one past the page), page, size."""
    try:
        page = max(1, int(form.get("page") or "1"))
        size = int(form.get("page_size") or PAGE_SIZES[0])
    except ValueError:
        raise BadRequest("page and page size are whole numbers") from None
    if size not in PAGE_SIZES or page > 1000:
        raise BadRequest(f"page size is one of {PAGE_SIZES}; at most 1000 pages")
    body = {"left": _side(form, "left"), "right": _side(form, "right"),
            "purpose": form.get("purpose").strip(), "case_ref": form.get("case_ref").strip(),
            "limit": page * size + 1}  # fmt: skip
    try:
        return ComparisonBody.model_validate(body), page, size
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())  # fmt: skip
        raise BadRequest(problems) from None


def _datasets(request: Request) -> list[DatasetOut]:
    with get_console(request).services.sessions() as session:
        return [DatasetOut.model_validate(d) for d in service.list_datasets(session=session)]


@router.get("/console/comparisons")
async def comparisons_page(request: Request, caller: Caller = Depends(may_compare)) -> Response:
    datasets = await run_in_threadpool(_datasets, request)
    purposes = sorted({p for d in datasets for p in d.allowed_purposes})
    saved = await run_in_threadpool(models_and_runs, request, caller)
    return render(request, "comparisons.html", datasets=datasets, purposes=purposes, ops=OPS,
                  page_sizes=PAGE_SIZES, sides=SIDES, **saved)  # fmt: skip


def _run(request: Request, caller: Caller, body: ComparisonBody) -> dict[str, Any]:
    """The API's JSON answer, taken whole (bounded by the limit) and ended on record;
    governed as the API's is (``routes.streaming.Governor``): the sides are read whole
    before the matches exist, so the account, the entries and policy are read again
    before they are shown — a suspension, a freeze or a revoked grant meanwhile ends it
    aborted, nothing shown (red team 8)."""
    comparer: Comparer = request.app.state.comparer
    request_id, client_request_id = new_request_ids(request)
    origin = Origin(request_id=request_id, client=request.client.host if request.client else None,
                    client_request_id=client_request_id)  # fmt: skip
    started = comparer.prepare(user=caller.user, body=body, origin=origin)
    delivery = comparer.run(started, fmt="json")
    directory, signed_in = get_console(request).directory, caller.user
    governs = in_session(request, caller, rechecks(comparer, started, directory, signed_in))

    data = take_whole(delivery, governs=governs, read_at=account_read_at(request))
    answer: dict[str, Any] = json.loads(data)
    answer["comparison_id"] = started.comparison_id
    return answer


@router.post("/console/comparisons/run")
async def run(
    request: Request, caller: Caller = Depends(may_compare), form: Form = Depends(csrf_form)
) -> Response:
    body, page, size = comparison_body(form)
    try:
        answer = await run_in_threadpool(_run, request, caller, body)
    except Forbidden as exc:  # on record first, as the API's (rows35)
        return await refusal_shown(request, exc) or render(
            request, "comparisons_results.html", status=403, refused=exc.message,
            details=exc.details, answer={}, columns=[], rows=[], page=page, more=False,
        )  # fmt: skip
    rows = answer.get("rows") or []
    start = (page - 1) * size
    return render(request, "comparisons_results.html", refused=None, details={}, answer=answer,
                  columns=answer.get("columns") or [], rows=rows[start:start + size],
                  page=page, more=len(rows) > page * size)  # fmt: skip
