"""Query (analysts): choose fields, filters, purpose and case reference; a paged preview
of exactly what the API returns; CSV / Parquet downloads.

No second code path: the form becomes the API's ``QueryBody`` and goes to the same
``Broker.prepare`` (casbin, one policy decision, limits, ``query.started`` on record)
as ``POST /api/v1/datasets/{id}/query``. The preview asks for the API's JSON format
and renders those bytes: the delivery is taken whole (a page is small), and it ends on
record as ``query.completed`` like any API answer. Downloads return the API's own
streaming response (``gateway.web.routes.streaming.respond``) with a file name. A
refusal by policy is shown with the policy's reasons (and the fields an access request
would unlock), as the API's 403 body carries them, and is on record as the API's is
(``guard.refusal_shown``: a refusal behind the policy was shown unrecorded, rows35).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from catalog import service
from catalog.errors import BadRequest, Forbidden
from catalog.schemas import DatasetOut
from gateway.enforcement.query.broker import Broker
from gateway.enforcement.query.context import Origin, QueryRequest
from gateway.enforcement.query.formats import FORMATS
from gateway.enforcement.query.schemas import QueryBody
from gateway.web.console.caller import Caller, in_session
from gateway.web.console.forms import Form
from gateway.web.console.guard import ConsoleRoute, csrf_form, page_permission, refusal_shown
from gateway.web.console.rendering import from_input_key, offered, render
from gateway.web.console.runtime import get_console
from gateway.web.current_user import account_read_at
from gateway.web.routes.streaming import new_request_ids, rechecks, respond, take_whole

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
may_query = page_permission("dataset:query")

OPS = ("=", "!=", "<", "<=", ">", ">=", "prefix", "in")
PAGE_SIZES = (20, 50, 100)
FILTER_ROWS = 3
DOWNLOADS = {"csv": "csv", "parquet": "parquet"}


def _entry(request: Request, dataset_id: str) -> DatasetOut:
    with get_console(request).services.sessions() as session:
        return DatasetOut.model_validate(
            service.get_dataset(session=session, dataset_id=dataset_id)
        )


def _value(raw: str, op: str, field_type: str) -> Any:
    if op == "in":
        return [part.strip() for part in raw.replace("，", ",").split(",") if part.strip()]
    if field_type == "bool":
        return raw.strip().lower() in ("true", "1", "yes", "是")
    return raw


def query_body(form: Form, entry: DatasetOut, *, paged: bool) -> tuple[QueryBody, int, int]:
    """The form as the API's ``QueryBody``; with the page number and size. The names the
    page offered (fields, purposes) read back as ``offered``."""
    types = {f.name: f.type for f in entry.fields}
    names = list(types)
    fields = [offered(name, names) for name in form.getlist("fields") if name]
    where = []
    for i in range(FILTER_ROWS):
        name, op, raw = (offered(form.get(f"where_{i}_field"), names), form.get(f"where_{i}_op"),
                         form.get(f"where_{i}_value"))  # fmt: skip
        if not name:
            continue
        if op not in OPS:
            raise BadRequest(f"unknown condition {op!r}")
        where.append({"field": name, "op": op, "value": _value(raw, op, types.get(name, ""))})
    try:
        page = max(1, int(form.get("page") or "1"))
        size = int(form.get("page_size") or PAGE_SIZES[0])
    except ValueError:
        raise BadRequest("page and page size are whole numbers") from None
    if size not in PAGE_SIZES:
        raise BadRequest(f"page size is one of {PAGE_SIZES}")
    purpose = offered(form.get("purpose"), list(entry.allowed_purposes))
    unmask = [offered(name, names) for name in form.getlist("unmask") if name]
    body: dict[str, Any] = {"fields": fields, "where": where, "purpose": purpose or None,
                            "case_ref": form.get("case_ref").strip() or None,
                            "unmask": unmask}  # fmt: skip
    if paged:
        body.update(limit=size, offset=(page - 1) * size)
    try:
        return QueryBody.model_validate(body), page, size
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())  # fmt: skip
        raise BadRequest(problems) from None


@router.get("/console/query")
async def choose(request: Request, caller: Caller = Depends(may_query)) -> Response:
    def load() -> list[DatasetOut]:
        with get_console(request).services.sessions() as session:
            return [DatasetOut.model_validate(d) for d in service.list_datasets(session=session)]

    return render(request, "query_choose.html", datasets=await run_in_threadpool(load))


@router.get("/console/query/{dataset_id}")
async def query_form(
    request: Request,
    dataset_id: str,
    purpose: str = Query("", max_length=64),
    caller: Caller = Depends(may_query),
) -> Response:
    entry = await run_in_threadpool(_entry, request, dataset_id)
    return render(request, "query.html", entry=entry, ops=OPS, page_sizes=PAGE_SIZES,
                  filter_rows=range(FILTER_ROWS), purpose=purpose)  # fmt: skip


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _query(request: Request, caller: Caller, dataset_id: str, body: QueryBody,
           request_id: str) -> QueryRequest:  # fmt: skip
    """The API's own request object: the console is one more origin of it."""
    origin = Origin(request_id=request_id, client=_client(request))
    return QueryRequest(user=caller.user, dataset_id=dataset_id, body=body, origin=origin)


def _preview(request: Request, broker: Broker, caller: Caller, dataset_id: str,
             body: QueryBody) -> dict[str, Any]:  # fmt: skip
    """The API's JSON answer for this page, taken whole, governed as a download is (a
    suspension, a freeze, a narrowed access while it is read: nothing shown, red team 8)
    and ended on record."""
    request_id, _ = new_request_ids(request)
    started = broker.prepare(_query(request, caller, dataset_id, body, request_id))
    delivery = broker.run(started, fmt="json")
    directory, signed_in = get_console(request).directory, caller.user
    governs = in_session(request, caller, rechecks(broker, started, directory, signed_in))

    data = take_whole(delivery, governs=governs, read_at=account_read_at(request))
    answer: dict[str, Any] = json.loads(data)
    answer["row_filter"] = started.decision.row_filter
    answer["request_id"] = request_id
    return answer


async def _refused(request: Request, exc: Forbidden, entry: DatasetOut,
                   body: QueryBody) -> Response:  # fmt: skip
    """The refusal with the policy's reasons, once it is on record (``refusal_shown``)."""
    return await refusal_shown(request, exc) or render(
        request, "query_refused.html", status=403, message=exc.message, details=exc.details,
        entry=entry, body=body,
    )  # fmt: skip


CARRIED = "carried"  # a page button's post: the query as its page carried it


def carried_back(form: Form) -> Form:
    """The query a page of results carried (``query_results.html``), as it was sent: the
    page prints each value as its ``input_key`` — printed as text, a value went through
    ``shown``, and a case reference or a filter value holding an invisible character
    came back as its ``\\uXXXX`` display: the next page was read, and recorded, under a
    case reference nobody gave (red team 64)."""
    if form.get(CARRIED) != "1":
        return form
    pairs = []
    for name, value in form.items():
        if name in ("csrf_token", "page"):
            pairs.append((name, value))
        elif name != CARRIED:
            refusal = "a page's query came back other than it was carried"
            pairs.append((name, from_input_key(value, refusal)))
    return Form(pairs)


@router.post("/console/query/{dataset_id}/preview")
async def preview(
    request: Request,
    dataset_id: str,
    caller: Caller = Depends(may_query),
    form: Form = Depends(csrf_form),
) -> Response:
    entry = await run_in_threadpool(_entry, request, dataset_id)
    form = carried_back(form)
    body, page, size = query_body(form, entry, paged=True)
    broker: Broker = request.app.state.broker
    try:
        answer = await run_in_threadpool(_preview, request, broker, caller, dataset_id, body)
    except Forbidden as exc:
        return await _refused(request, exc, entry, body)
    columns = answer.get("columns") or []
    # the results carry the query they answer: their page buttons post it again, whether
    # the page was swapped in by htmx or rendered whole by a plain form post (a click
    # before htmx had loaded), where there is no query form to include
    carried = [(k, v) for k, v in form.items() if k not in ("page", "csrf_token", CARRIED)]
    return render(request, "query_results.html", entry=entry, answer=answer, columns=columns,
                  rows=answer.get("rows") or [], page=page, size=size, carried=carried,
                  more=bool(answer.get("truncated")))  # fmt: skip


@router.post("/console/query/{dataset_id}/download")
async def download(
    request: Request,
    dataset_id: str,
    format: str = Query("csv", max_length=16),
    caller: Caller = Depends(may_query),
    form: Form = Depends(csrf_form),
) -> Response:
    fmt = DOWNLOADS.get(format)
    if fmt is None:
        raise BadRequest(f"download format is one of {', '.join(DOWNLOADS)}")
    entry = await run_in_threadpool(_entry, request, dataset_id)
    body, _page, _size = query_body(form, entry, paged=False)
    request_id, _ = new_request_ids(request)
    broker: Broker = request.app.state.broker
    try:
        started = await run_in_threadpool(
            broker.prepare, _query(request, caller, dataset_id, body, request_id)
        )
    except Forbidden as exc:
        return await _refused(request, exc, entry, body)
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in dataset_id)
    headers = {
        "X-Sluice-Decision-Id": started.decision.decision_id,
        "X-Sluice-Policy-Version": started.decision.policy_version,
        "X-Request-Id": request_id,
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
    }
    settings = get_console(request).services.settings
    delivery = broker.run(started, fmt=fmt, bom=fmt == "csv")  # CSV with a BOM, for Excel
    directory, signed_in = get_console(request).directory, caller.user
    governs = in_session(request, caller, rechecks(broker, started, directory, signed_in))

    return await run_in_threadpool(
        lambda: respond(
            delivery,
            FORMATS[fmt],
            headers,
            stall_timeout_s=settings.stream_stall_timeout_s,
            cut=started.cut,
            governs=governs,
            read_at=account_read_at(request),
            govern_every_s=settings.stream_govern_every_s,
        )
    )
