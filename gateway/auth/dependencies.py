"""FastAPI dependency ``current_user``: every protected route depends on it.

A token verified before (the common case: the same token comes with every request of a
session) is looked up on the event loop — no I/O, no signature check. Any other token is
validated in the thread pool, because with a remote JWKS a key refresh is a blocking
HTTP call. A sync dependency would cost every request a second thread-pool hop.
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from catalog.errors import Unavailable
from policies.decision import UserContext


async def current_user(request: Request) -> UserContext:
    """The authenticated caller; raises ``Unauthenticated`` (401) otherwise."""
    authenticator = getattr(request.app.state.services, "authenticator", None)
    if authenticator is None:
        raise Unavailable("authentication is not configured")
    header = request.headers.get("authorization")
    known: UserContext | None = authenticator.authenticate_if_verified(header)
    user: UserContext = (
        known if known is not None else await run_in_threadpool(authenticator.authenticate, header)
    )
    request.state.user = user
    return user


async def optional_user(request: Request) -> UserContext | None:
    """The caller if they sent credentials (which must then be valid), else None:
    for public pages that say more to a signed-in user."""
    if not request.headers.get("authorization"):
        return None
    return await current_user(request)
