"""FastAPI dependency ``current_user``: every protected route depends on it.

Two steps, in this order: the token says who the caller is (authentication), then the
user store says what they are now (``gateway.stewardship.users.directory``: department, clearance,
jurisdiction, roles, status) — the token's own attribute claims never govern a request,
so a downgrade or a suspension applies to the very next request.

A token verified before (the common case: the same token comes with every request of a
session) is looked up on the event loop — no I/O, no signature check. The store lookup
reads the catalog generation (I/O), so it runs in the thread pool, together with the
token validation when the token is new: one hop either way. The generation read is
left on ``request.state.catalog_generation`` for the broker (``catalog_generation_of``),
so a query reads it once.
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from catalog.errors import Unavailable
from gateway.web.deps import get_services
from policies.decision import UserContext


async def current_user(request: Request) -> UserContext:
    """The authenticated caller; raises ``Unauthenticated`` (401) otherwise."""
    authenticator = get_services(request).authenticator
    directory = getattr(request.app.state, "identities", None)
    if directory is None:
        raise Unavailable("the user store is not configured")
    header = request.headers.get("authorization")
    known: UserContext | None = authenticator.authenticate_if_verified(header)

    def resolve() -> UserContext:
        token_user = known if known is not None else authenticator.authenticate(header)
        request.state.token_user = token_user  # authenticated, even if the store refuses
        resolved, generation = directory.resolve_at(token_user)
        request.state.catalog_generation = generation  # the broker reads no second one
        return resolved  # type: ignore[no-any-return]

    user: UserContext = await run_in_threadpool(resolve)
    request.state.user = user
    return user


async def optional_user(request: Request) -> UserContext | None:
    """The caller if they sent credentials (which must then be valid), else None:
    for public pages that say more to a signed-in user."""
    if not request.headers.get("authorization"):
        return None
    return await current_user(request)


def catalog_generation_of(request: Request) -> int | None:
    """The catalog generation ``current_user`` read for this request (None if it did
    not run): the broker resolves the entry under the same one instead of a second read."""
    generation = getattr(request.state, "catalog_generation", None)
    return generation if isinstance(generation, int) else None
