"""Maps ``SluiceError`` leaves, validation errors and anything unexpected to JSON responses.

Unexpected exceptions become a 500 with a request id and no traceback; the traceback
goes to the log only.
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
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog.errors import SluiceError

log = structlog.get_logger("sluice.errors")


class ErrorResponse(JSONResponse):
    """A JSON error body that always encodes: a message echoing the caller's input may
    hold a lone surrogate (``"\\ud800"`` in the request JSON), which UTF-8 cannot
    encode; it goes out as ``?`` instead of failing the response with a 500."""

    def render(self, content: object) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "replace")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SluiceError)
    async def _sluice_error(_request: Request, exc: SluiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return ErrorResponse(exc.to_dict(), status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))}
            for err in exc.errors()
        ]
        body = {"code": "bad_request", "message": "invalid request", "details": problems}
        return ErrorResponse(body, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return ErrorResponse(
            {"code": code, "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(SQLAlchemyError)
    async def _database_error(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        """The catalog database is down or saturated: a 503 the client may retry, never
        a 500 (messages stay generic: driver errors can carry connection details)."""
        incident = uuid.uuid4().hex
        if isinstance(exc, OperationalError | InterfaceError | SATimeoutError):
            log.error("catalog_db_unavailable", incident=incident, error=type(exc).__name__)
            return JSONResponse(
                {"code": "unavailable",
                 "message": f"catalog database unavailable, retry later (incident {incident})"},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        log.error("catalog_db_error", incident=incident, exc_info=exc)
        return JSONResponse(
            {"code": "internal", "message": f"internal error (incident {incident})"},
            status_code=500,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex
        log.error("unhandled_error", incident=incident, exc_info=exc)
        return JSONResponse(
            {"code": "internal", "message": f"internal error (incident {incident})"},
            status_code=500,
        )
