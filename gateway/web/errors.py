"""Maps ``SluiceError`` leaves, validation errors and anything unexpected to JSON responses.

Unexpected exceptions become a 500 with a request id and no traceback; the traceback
goes to the log only. Every error response to an authenticated API request is put on
the audit trail first (``gateway.web.refusals``); if that record cannot be written the
answer is a 503 instead — still an error, never a silent one.
"""

from __future__ import annotations

import json
import uuid

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog.errors import SluiceError
from gateway.web.refusals import UNRECORDED_BODY, record_refusal, unrecorded

log = structlog.get_logger("sluice.errors")


class ErrorResponse(JSONResponse):
    """A JSON error body that always encodes: a message echoing the caller's input may
    hold a lone surrogate (``"\\ud800"`` in the request JSON), which UTF-8 cannot
    encode; it goes out as ``?`` instead of failing the response with a 500."""

    def render(self, content: object) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "replace")


_NOT_RECORDED = {"code": "unavailable", "message": "the audit trail is unavailable; retry later"}


async def _on_record(
    request: Request,
    response: JSONResponse,
    *,
    code: str,
    exc: BaseException,
    problems: list[list[str]] | None = None,
) -> JSONResponse:
    """``response``, once the refusal is on record (a 503 when it could not be)."""
    if await record_refusal(request, status=response.status_code, code=code, exc=exc,
                            problems=problems):  # fmt: skip
        if unrecorded(request):
            return ErrorResponse(UNRECORDED_BODY, status_code=429)
        return response
    return ErrorResponse(_NOT_RECORDED, status_code=503, headers={"Retry-After": "1"})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SluiceError)
    async def _sluice_error(request: Request, exc: SluiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        response = ErrorResponse(exc.to_dict(), status_code=exc.http_status, headers=headers)
        return await _on_record(request, response, code=exc.code, exc=exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))}
            for err in exc.errors()
        ]
        body = {"code": "bad_request", "message": "invalid request", "details": problems}
        return await _on_record(request, ErrorResponse(body, status_code=400),
                                code="bad_request", exc=exc,
                                problems=[list(p["loc"]) for p in problems])  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, SluiceError):  # FastAPI wraps errors reading the body
            return await _sluice_error(request, exc.__cause__)  # (e.g. ``BodyLimit``'s 413)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = ErrorResponse(
            {"code": code, "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
        return await _on_record(request, response, code=code, exc=exc)

    @app.exception_handler(SQLAlchemyError)
    async def _database_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        """The catalog database is down or saturated: a 503 the client may retry, never
        a 500 (messages stay generic: driver errors can carry connection details)."""
        if isinstance(exc, StaleDataError):  # a compare-and-set lost to another request
            return await _on_record(request, JSONResponse(
                {"code": "conflict",
                 "message": "changed by another request meanwhile; reload it and try again"},
                status_code=409,
            ), code="conflict", exc=exc)  # fmt: skip
        incident = uuid.uuid4().hex
        if isinstance(exc, OperationalError | InterfaceError | SATimeoutError):
            log.error("catalog_db_unavailable", incident=incident, error=type(exc).__name__)
            return await _on_record(request, JSONResponse(
                {"code": "unavailable",
                 "message": f"catalog database unavailable, retry later (incident {incident})"},
                status_code=503,
                headers={"Retry-After": "1"},
            ), code="unavailable", exc=exc)  # fmt: skip
        log.error("catalog_db_error", incident=incident, exc_info=exc)
        return await _on_record(request, JSONResponse(
            {"code": "internal", "message": f"internal error (incident {incident})"},
            status_code=500,
        ), code="internal", exc=exc)  # fmt: skip

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex
        log.error("unhandled_error", incident=incident, exc_info=exc)
        return await _on_record(request, JSONResponse(
            {"code": "internal", "message": f"internal error (incident {incident})"},
            status_code=500,
        ), code="internal", exc=exc)  # fmt: skip
