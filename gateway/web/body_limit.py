"""Bodies of the API are small JSON documents: bound them (413).

A pure ASGI wrapper around ``receive``: a declared ``Content-Length`` above the bound,
or a streamed body that grows past it, raises ``TooLarge`` while the route reads the
body — so the refusal goes through the error handlers and, for an authenticated caller,
onto the audit trail (``gateway.web.refusals``) like any other.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog.errors import TooLarge

MAX_BODY_BYTES = 1024 * 1024
# every API body: the steward's edits too (a 25 MB tag list was stored and then served
# to every catalog reader); the witness route has its own, smaller bound
BOUNDED_PATHS = re.compile(r"^/api/v1/")


def bounded_receive(scope: Scope, receive: Receive, limit: int) -> Receive:
    """``receive`` that raises ``TooLarge`` once the body is known to exceed ``limit``:
    at once for a declared ``Content-Length`` above it, else as the chunks add up."""
    declared = dict(scope.get("headers") or []).get(b"content-length", b"")
    too_big = declared.isdigit() and int(declared) > limit
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        if too_big:
            raise TooLarge(f"request body over {limit} bytes")
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise TooLarge(f"request body over {limit} bytes")
        return message

    return bounded


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` on ``BOUNDED_PATHS``."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not BOUNDED_PATHS.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        await self.app(scope, bounded_receive(scope, receive, self.max_bytes), send)
