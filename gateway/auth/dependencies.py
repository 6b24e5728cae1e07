"""FastAPI dependency ``current_user``: every protected route depends on it.

Deliberately a plain ``def``: with a remote JWKS a key refresh is a blocking HTTP call,
which FastAPI then runs in its thread pool instead of on the event loop.
"""

from __future__ import annotations

from fastapi import Request

from catalog.errors import Unavailable
from policies.decision import UserContext


def current_user(request: Request) -> UserContext:
    """The authenticated caller; raises ``Unauthenticated`` (401) otherwise."""
    authenticator = getattr(request.app.state.services, "authenticator", None)
    if authenticator is None:
        raise Unavailable("authentication is not configured")
    user: UserContext = authenticator.authenticate(request.headers.get("authorization"))
    request.state.user = user
    return user


def optional_user(request: Request) -> UserContext | None:
    """The caller if they sent credentials (which must then be valid), else None:
    for public pages that say more to a signed-in user."""
    if not request.headers.get("authorization"):
        return None
    return current_user(request)
