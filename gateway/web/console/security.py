"""Response headers for the whole gateway, and bounded bodies for the console.

- every response: ``X-Frame-Options: DENY`` (and CSP ``frame-ancestors 'none'`` on the
  console), ``Referrer-Policy: same-origin`` (nothing leaves for another site;
  ``no-referrer`` would make browsers send ``Origin: null`` on the console's own
  posts, which the CSRF check refuses), ``X-Content-Type-Options: nosniff``;
- console responses (``/console``, and ``/`` which redirects there): a strict
  Content-Security-Policy — scripts and styles only from this gateway, no inline script
  or style, no ``eval``, forms post only here. The templates carry no inline script or
  ``style=`` attribute and htmx is configured not to inject its indicator style
  (``templates/base.html``), so nothing on the pages needs an exception;
- ``/docs`` and ``/redoc`` keep no CSP: Swagger UI and ReDoc start from an inline script
  (fastapi-offline serves their files locally, but the bootstrap is inline);
- console request bodies are bounded at ``MAX_CONSOLE_BODY`` (the API's own bound,
  ``gateway.web.body_limit``, covers ``/api/v1/`` only).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.web.body_limit import bounded_receive

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")  # fmt: skip
MAX_CONSOLE_BODY = 256 * 1024


def _is_console(path: str) -> bool:
    return path == "/" or path == "/console" or path.startswith("/console/")


class SecurityHeaders:
    """Pure ASGI middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp, max_console_body: int = MAX_CONSOLE_BODY) -> None:
        self.app = app
        self.max_console_body = max_console_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        console = _is_console(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if console:
                    headers["Content-Security-Policy"] = CSP
            await send(message)

        if not console:
            await self.app(scope, receive, send_with_headers)
            return
        await self.app(scope, bounded_receive(scope, receive, self.max_console_body),
                       send_with_headers)  # fmt: skip
