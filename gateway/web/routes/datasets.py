"""``POST /api/v1/datasets/{id}/query``: the governed query.

The route runs in the thread pool (it reads the source); the caller's identity is
resolved there too, first (``deferred_user``), so a query crosses into the pool once for
its identity and its preparation instead of twice.

FastAPI declares the route (its OpenAPI, its parameters, its errors) but a well-formed
request takes a lean path (``LeanQueryRoute``): its four inputs read directly, no
dependency solving. Anything the lean path is not sure to read exactly as FastAPI would
(a body that does not validate, a content type other than plain JSON, a repeated or
unusual query parameter) is handed to FastAPI's own handler, so every error is FastAPI's.
Skipping the solving must not skip the application's own dependencies, which every route
runs first (``text_guard.APP_GUARDS``: NUL and lone surrogates in the path, the query
string or the body are a 400 on record): the lean path runs them too, first, as FastAPI
would (red team 16: it skipped them, and a NUL in a filter's value was answered).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from gateway.enforcement.query.context import Origin, QueryRequest
from gateway.enforcement.query.formats import FORMATS, choose_format
from gateway.enforcement.query.schemas import QueryBody
from gateway.web.current_user import (
    DeferredUser,
    account_read_at,
    catalog_generation_of,
    deferred_user,
)
from gateway.web.routes.streaming import new_request_ids, rechecks, respond
from gateway.web.text_guard import APP_GUARDS

# ``?bom=`` values read on the lean path (pydantic's lax bool accepts more: those go to
# FastAPI's handler, which reads them as it always did)
_BOM = {"true": True, "false": False, "1": True, "0": False}


class LeanQueryRoute(APIRoute):
    """The query route's handler: FastAPI's own when in doubt (see the module)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        full = super().get_route_handler()

        async def handler(request: Request) -> Response:
            args = await _lean_args(request)
            if args is None:
                return await full(request)
            for guard in APP_GUARDS:  # what FastAPI's solving runs before the route's own
                await guard(request)
            body, fmt, bom = args
            caller = await deferred_user(request)
            dataset_id: str = request.path_params["dataset_id"]
            return await run_in_threadpool(query, dataset_id, body, request, fmt, bom, caller)

        return handler


async def _lean_args(request: Request) -> tuple[QueryBody, str | None, bool] | None:
    """The body, ``format`` and ``bom`` as FastAPI would solve them, or ``None`` when
    the request is not plainly well-formed (FastAPI's handler then answers it)."""
    if request.headers.get("content-type") != "application/json":
        return None
    params = request.query_params
    fmt: str | None = None
    bom = False
    if params:
        for name in ("format", "bom"):
            if len(params.getlist(name)) > 1:
                return None
        fmt = params.get("format")
        raw_bom = params.get("bom")
        if raw_bom is not None:
            if raw_bom not in _BOM:
                return None
            bom = _BOM[raw_bom]
    raw = await request.body()
    if not raw:
        return None
    try:
        body = QueryBody.model_validate(json.loads(raw))
    except Exception:  # not JSON, too deep (RecursionError), not valid: FastAPI words it
        return None
    return body, fmt, bom


router = APIRouter(tags=["query"], route_class=LeanQueryRoute)


@router.post(
    "/api/v1/datasets/{dataset_id}/query",
    responses={
        200: {"description": "rows as policy allows them, in the requested format"},
        403: {"description": "refused by policy, with reasons"},
        404: {"description": "unknown dataset"},
    },
)
def query_dataset(
    dataset_id: str,
    body: QueryBody,
    request: Request,
    format: str | None = Query(default=None, description=", ".join(FORMATS)),
    bom: bool = Query(default=False, description="CSV: start with a UTF-8 BOM for Excel"),
    caller: DeferredUser = Depends(deferred_user),
) -> Response:
    return query(dataset_id, body, request, format, bom, caller)


def query(
    dataset_id: str,
    body: QueryBody,
    request: Request,
    format: str | None,
    bom: bool,
    caller: DeferredUser,
) -> Response:
    """The governed query, whichever path read its inputs."""
    user = caller.resolve()  # before anything else: the store's refusal, if any
    fmt = choose_format(format, request.headers.get("accept"))
    request_id, client_request_id = new_request_ids(request)
    broker = request.app.state.broker
    origin = Origin(request_id=request_id, client=request.client.host if request.client else None,
                    client_request_id=client_request_id)  # fmt: skip
    started = broker.prepare(
        QueryRequest(
            user=user,
            dataset_id=dataset_id,
            body=body,
            origin=origin,
            generation=catalog_generation_of(request),
        )
    )
    headers = {
        "X-Sluice-Decision-Id": started.decision.decision_id,
        "X-Sluice-Policy-Version": started.decision.policy_version,
        "X-Request-Id": request_id,
    }
    settings = request.app.state.services.settings
    directory, token_user = request.app.state.identities, caller.token_user
    governs = rechecks(broker, started, directory, token_user,
                       catalog_generation_of(request) or 0)  # fmt: skip

    return respond(broker.run(started, fmt=fmt, bom=bom), FORMATS[fmt], headers,
                   stall_timeout_s=settings.stream_stall_timeout_s, cut=started.cut,
                   governs=governs, read_at=account_read_at(request),
                   govern_every_s=settings.stream_govern_every_s)  # fmt: skip
