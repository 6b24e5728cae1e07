"""``POST /api/v1/datasets/{id}/query``: the governed query."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from gateway.auth.dependencies import current_user
from gateway.query.formats import FORMATS, choose_format
from gateway.query.schemas import QueryBody
from policies.decision import UserContext

router = APIRouter(tags=["query"])

SMALL_RESPONSE = 64 * 1024
# a client's X-Request-Id is echoed as a header and recorded: only a plain token is kept
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


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
    user: UserContext = Depends(current_user),
) -> Response:
    fmt = choose_format(format, request.headers.get("accept"))
    request_id = request.headers.get("x-request-id") or ""
    if not _REQUEST_ID.fullmatch(request_id):
        request_id = uuid.uuid4().hex
    broker = request.app.state.broker
    prepared = broker.prepare(
        user=user, dataset_id=dataset_id, body=body, fmt=fmt, bom=bom,
        client=request.client.host if request.client else None, request_id=request_id,
    )
    headers = {
        "X-Sluice-Decision-Id": prepared.decision.decision_id,
        "X-Sluice-Policy-Version": prepared.decision.policy_version,
        "X-Request-Id": request_id,
    }
    media_type = FORMATS[fmt]
    stream = broker.run(prepared)
    # Small results (the common case) go out as one response: errors before the first
    # byte still become JSON errors, and the completed event is on record first.
    head: list[bytes] = []
    size = 0
    for chunk in stream:
        head.append(chunk)
        size += len(chunk)
        if size > SMALL_RESPONSE:
            return StreamingResponse(
                _chain(head, stream), media_type=media_type, headers=headers
            )
    return Response(b"".join(head), media_type=media_type, headers=headers)


def _chain(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from head
    yield from rest
