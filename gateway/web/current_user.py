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

``deferred_user`` is the same two steps for a synchronous route that runs in the thread
pool anyway (the governed query): a known token is checked on the event loop (a bad
token is still a 401 before anything else), and the store lookup waits for the route to
call ``DeferredUser.resolve`` first thing in its own thread — one thread-pool hop per
request instead of two. The one difference a caller can see: a store refusal (disabled
account 403, unknown subject 401) now comes after FastAPI's validation of the body, so a
malformed body from a suspended account is a 400 (on record, under the token's subject)
rather than a 403; no route code runs either way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from catalog.errors import Unavailable
from gateway.core.seams import TokenAuthenticator
from gateway.stewardship.users.directory import IdentityDirectory
from gateway.web.deps import count_call, get_services
from policies.decision import UserContext


def _seams(request: Request) -> tuple[TokenAuthenticator, IdentityDirectory]:
    directory = getattr(request.app.state, "identities", None)
    if directory is None:
        raise Unavailable("the user store is not configured")
    return get_services(request).authenticator, directory


def _from_store(request: Request, token_user: UserContext) -> UserContext:
    """The store's identity of an authenticated caller (blocking: one generation read);
    leaves the caller and the generation on ``request.state``."""
    _, directory = _seams(request)
    request.state.token_user = token_user  # authenticated, even if the store refuses
    request.state.account_read_at = time.monotonic()  # a result's Governor counts from it
    request.state.store_asked = True  # a refusal after this one names the subject alone
    resolved, generation = directory.resolve_at(token_user)
    request.state.catalog_generation = generation  # the broker reads no second one
    request.state.user = resolved
    return resolved


def _counted(request: Request, user: UserContext) -> UserContext:
    """Count one call of ``user`` on their rate (blocking: the limits store, Redis across
    replicas); raises ``RateLimited`` (429) past it."""
    count_call(request, user.subject)
    return user


async def _resolved(request: Request, *, counted: bool) -> UserContext:
    authenticator, _ = _seams(request)
    header = request.headers.get("authorization")
    known: UserContext | None = authenticator.authenticate_if_verified(header)

    def resolve() -> UserContext:
        token_user = known if known is not None else authenticator.authenticate(header)
        user = _from_store(request, token_user)
        return _counted(request, user) if counted else user

    return await run_in_threadpool(resolve)


async def current_user(request: Request) -> UserContext:
    """The authenticated caller; raises ``Unauthenticated`` (401) otherwise. Not counted
    on the caller's rate: for the reads nothing records (a run's status, polled) and
    the calls the broker counts itself (a query, a comparison's sides)."""
    return await _resolved(request, counted=False)


async def audited_user(request: Request) -> UserContext:
    """``current_user`` for a call that goes on the audit trail when it succeeds (every
    state-changing call, a hit list's read, an audit read): counted on the caller's rate
    (``SLUICE_RATE_LIMIT``) as a query is, 429 past it, in the same thread-pool hop.
    Each success is a durable chained event; uncounted, one analyst wrote them at the
    network's speed (left by red team 22, closed in the twenty-seventh pass). A 429 is a
    refusal like any other: on record within the user's refusal budget
    (``gateway.web.refusals``)."""
    return await _resolved(request, counted=True)


@dataclass
class DeferredUser:
    """A caller whose token is verified; ``resolve`` (in the route's thread) gives the
    store's identity, or raises its refusal."""

    request: Request
    token_user: UserContext
    user: UserContext | None = None

    def resolve(self) -> UserContext:
        if self.user is None:
            self.user = _from_store(self.request, self.token_user)
        return self.user


async def deferred_user(request: Request) -> DeferredUser:
    """``current_user`` for a synchronous route: a token verified before is checked here,
    on the event loop, and the store lookup is left to ``DeferredUser.resolve``; a new
    token takes ``current_user``'s one hop (validation and lookup together)."""
    authenticator, _ = _seams(request)
    known = authenticator.authenticate_if_verified(request.headers.get("authorization"))
    if known is None:
        user = await current_user(request)
        return DeferredUser(request, request.state.token_user, user)
    request.state.token_user = known  # refusals name the caller even before ``resolve``
    return DeferredUser(request, known)


async def optional_user(request: Request) -> UserContext | None:
    """The caller if they sent credentials (which must then be valid), else None:
    for public pages that say more to a signed-in user."""
    if not request.headers.get("authorization"):
        return None
    return await current_user(request)


def account_read_at(request: Request) -> float | None:
    """When this request read its caller's account (``time.monotonic``; None if it did
    not): a result's re-reads count from there, not from when the result began, since a
    query may wait seconds for a source slot in between (red team 8)."""
    read_at = getattr(request.state, "account_read_at", None)
    return read_at if isinstance(read_at, float) else None


def catalog_generation_of(request: Request) -> int | None:
    """The catalog generation ``current_user`` read for this request (None if it did
    not run): the broker resolves the entry under the same one instead of a second read."""
    generation = getattr(request.state, "catalog_generation", None)
    return generation if isinstance(generation, int) else None
