"""``POST /api/v1/comparisons``: two catalog entries matched on pseudonymised keys."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from gateway.enforcement.comparison.schemas import ComparisonBody
from gateway.enforcement.query.context import Origin
from gateway.enforcement.query.formats import FORMATS, choose_format
from gateway.web.current_user import account_read_at, current_user
from gateway.web.routes.streaming import new_request_ids, rechecks, respond
from policies.decision import UserContext

router = APIRouter(tags=["comparison"])


@router.post(
    "/api/v1/comparisons",
    responses={
        200: {"description": "the matches: key token and each side's fields as policy allows"},
        403: {"description": "one side refused by policy, with reasons"},
        404: {"description": "unknown dataset"},
        413: {"description": "a side has more rows than a comparison may read"},
    },
)
def compare(
    body: ComparisonBody,
    request: Request,
    format: str | None = Query(default=None, description=", ".join(FORMATS)),
    bom: bool = Query(default=False, description="CSV: start with a UTF-8 BOM for Excel"),
    user: UserContext = Depends(current_user),
) -> Response:
    """Each side is a governed query (its own decision, masks, row filter and audit
    record); the keys are matched as HMAC tokens under the case key, so the same person
    matches across departments without an identity number leaving the gateway."""
    # as every other comparison path (a model's run, a schedule, a re-identification ask):
    # dataset:query on each side alone let a role that may query but not compare match
    # departments' people (red team 59)
    request.app.state.services.authorizer.check(subject=user.subject, domain="*",
                                                action="compare:run")  # fmt: skip
    fmt = choose_format(format, request.headers.get("accept"))
    request_id, client_request_id = new_request_ids(request)
    comparer = request.app.state.comparer
    origin = Origin(request_id=request_id, client=request.client.host if request.client else None,
                    client_request_id=client_request_id)  # fmt: skip
    started = comparer.prepare(user=user, body=body, origin=origin)
    headers = {"X-Sluice-Comparison-Id": started.comparison_id, "X-Request-Id": request_id}
    settings = request.app.state.services.settings
    # the match is made before the first byte: its cut is known when the headers leave
    directory, token_user = request.app.state.identities, request.state.token_user
    governs = rechecks(comparer, started, directory, token_user)

    return respond(comparer.run(started, fmt=fmt, bom=bom), FORMATS[fmt], headers,
                   stall_timeout_s=settings.stream_stall_timeout_s,
                   cut=lambda: started.truncated, governs=governs,
                   read_at=account_read_at(request),
                   govern_every_s=settings.stream_govern_every_s)  # fmt: skip
