"""``POST /api/v1/datasets/{id}/query``: the governed query.

The route runs in the thread pool (it reads the source); the caller's identity is
resolved there too, first (``deferred_user``), so a query crosses into the pool once for
its identity and its preparation instead of twice.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from gateway.enforcement.query.context import Origin, QueryRequest
from gateway.enforcement.query.formats import FORMATS, choose_format
from gateway.enforcement.query.schemas import QueryBody
from gateway.web.current_user import (
    DeferredUser,
    account_read_at,
    catalog_generation_of,
    deferred_user,
)
from gateway.web.routes.streaming import new_request_ids, respond

router = APIRouter(tags=["query"])


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
    stall = request.app.state.services.settings.stream_stall_timeout_s
    directory, token_user = request.app.state.identities, caller.token_user
    seen = [catalog_generation_of(request) or 0]

    def governs() -> None:  # a suspension, a freeze, a narrowed access stop it in flight
        now = directory.resolve(token_user)
        seen[0] = broker.check_still_allowed(started, now, seen[0])

    return respond(broker.run(started, fmt=fmt, bom=bom), FORMATS[fmt], headers,
                   stall_timeout_s=stall, cut=started.cut, governs=governs,
                   read_at=account_read_at(request))  # fmt: skip
