"""One structured line per HTTP request (method, path, status, duration), and the
request's entry in the Prometheus series (``gateway.web.metrics``).

Never the query string, headers or body: a query string can carry an ID number (who
looked up whom), headers carry tokens. The audit trail, not this log, is the record of
who saw what; this log is for operators.
"""

from __future__ import annotations

import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("sluice.access")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            seconds = time.perf_counter() - started
            metrics = getattr(getattr(scope.get("app"), "state", None), "http_metrics", None)
            if metrics is not None:
                metrics.observe(scope, status, seconds)
            client = scope.get("client")
            log.info(
                "http.request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status,
                duration_ms=round(seconds * 1000, 2),
                client=client[0] if client else None,
            )
