"""Every authenticated request that ends in an error is on record: ``request.refused``.

The broker records the refusals it decides (role, quota, policy: ``query.denied``);
everything else that stops an authenticated request — an unknown field, a body the
validator rejects, a body too large, an unknown dataset, a policy-engine or database
failure — never reached it, and an insider could probe unseen. The error handlers
(``gateway.web.errors``) call ``record_refusal`` for every error response, so this is the
one place, whatever raised:

1. an error the broker already put on record (``SluiceError.audited``) is skipped;
2. the caller is the identity the request resolved (``request.state.user``), else the
   subject of a token that validated (``request.state.token_user`` — e.g. a disabled
   account), else the ``Authorization`` header is validated here (a body rejected
   before the route's dependencies ran) and its subject resolved in the user store; no
   valid token: not recorded in the trail (anyone can send those) but logged,
   rate-limited, with client and path. A token's department and roles claims are never
   the actor's on record: identity is the store's word (red team 61: a token claiming
   ``finance`` and ``admin`` put an analyst's 404s, 405s and 413s on record as an
   administrator's of finance); a subject the store refuses (unknown, disabled, its row
   changed behind the gateway) is named alone, with no department and no roles;
3. the event holds status, error code, method, path, client and the *locations* of
   validation problems — never the body, never the error text's echo of it (bounded,
   control characters removed);
4. if the audit trail refuses the append, the response is a 503: an error either way,
   and the caller learns nothing went unrecorded silently (fail closed);
5. one user's refusals are recorded one by one up to their rate limit; past it they are
   counted, and the count goes on record with the next one recorded
   (``gateway.enforcement.limits.refusal_recorded``).

The console's pages record their own refusals (``console.guard``); what reaches these
handlers under ``/console`` is what no page answered — a path or a method no page takes,
an unexpected error — and names the caller of a live console session (red team 16: such
probes were off the record for a signed-in user, where the API's are on it).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any

import structlog
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from audit.records import Actor, refusal_event
from catalog.errors import SluiceError, Unauthenticated, Unavailable, is_audited
from gateway.core.services import Services
from gateway.enforcement.limits import refusal_recorded
from gateway.web.deps import get_services
from policies.decision import UserContext

log = structlog.get_logger("sluice.refusals")

CONSOLE_PREFIX = "/console"  # the console's pages record their own (``console.guard``)
MAX_TEXT = 200
MAX_PROBLEMS = 10
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """Bounded, without control characters or lone surrogates (safe in any log)."""
    return _CONTROL.sub("?", text[:limit])


class _LogBudget:
    """At most ``per_s`` unauthenticated-refusal log lines a second (a flood of bad
    tokens must not flood the log)."""

    def __init__(self, per_s: int = 20) -> None:
        self._per_s = per_s
        self._window = 0
        self._count = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        now = int(time.monotonic())
        with self._lock:
            if now != self._window:
                self._window, self._count = now, 0
            self._count += 1
            return self._count <= self._per_s


_BUDGET = _LogBudget()


def _named(subject: str) -> UserContext:
    """A caller the store does not vouch for: their subject, nothing the token claims."""
    return UserContext(subject=subject, department=None, roles=(), clearance="L1",
                       jurisdiction=())  # fmt: skip


def _stored(request: Request, token_user: UserContext) -> UserContext:
    """The store's identity of a token's subject (blocking), else the subject alone."""
    directory = getattr(request.app.state, "identities", None)
    if directory is None:
        return _named(token_user.subject)
    try:
        found = directory.resolve(token_user)
    except Exception:  # unknown, reserved, disabled, unsealed, or the store failing:
        return _named(token_user.subject)  # the refusal is still recorded, by subject
    return found if isinstance(found, UserContext) else _named(token_user.subject)


async def _caller(request: Request) -> UserContext | None:
    """Who sent this request, if a token of theirs validated, as the user store names
    them (see the module doc)."""
    user = getattr(request.state, "user", None)
    if isinstance(user, UserContext):
        return user  # resolved in the store by the route
    token_user = getattr(request.state, "token_user", None)
    if isinstance(token_user, UserContext):
        if getattr(request.state, "store_asked", False) is True:
            return _named(token_user.subject)  # the store refused this account
        # a token verified before, the store not asked yet (``deferred_user``: a body
        # FastAPI rejects after it ran, before the route): the store's word, as below
        # (red team 62: fiona of finance was on record with no department, no roles)
        return await run_in_threadpool(_stored, request, token_user)
    header = request.headers.get("authorization")
    if not header:
        return None
    authenticator = get_services(request).authenticator
    try:
        known = authenticator.authenticate_if_verified(header)
        found = known or await run_in_threadpool(authenticator.authenticate, header)
    except SluiceError:
        return None
    if not isinstance(found, UserContext):
        return None
    return await run_in_threadpool(_stored, request, found)


async def _console_caller(request: Request) -> UserContext | None:
    """The subject of the live console session the request carries, if any."""
    # imported here: the console's package imports this module (``console.guard``)
    from gateway.web.console.sessions import SESSION_COOKIE

    console = getattr(request.app.state, "console", None)
    cookie = request.cookies.get(SESSION_COOKIE)
    if console is None or not cookie:
        return None
    session = await run_in_threadpool(console.sessions.find, cookie)
    if session is None:
        return None
    return UserContext(subject=session.subject, department=None, roles=(), clearance="L1",
                       jurisdiction=())  # fmt: skip


async def console_session_user(request: Request) -> UserContext | None:
    """The user store's identity of the live console session's subject (the subject
    alone if the store refuses it), for a page's refusal raised before the page knew its
    caller: the application-wide guard runs before a page's own dependencies, and its
    400s and 413s for a signed-in user were off the record (red team 63)."""
    found = await _console_caller(request)
    return None if found is None else await run_in_threadpool(_stored, request, found)


def budget_allows(services: Services, subject: str, details: dict[str, Any]) -> bool:
    """Whether this refusal of ``subject`` goes on record (5.:
    ``gateway.enforcement.limits.refusal_recorded``)."""
    return refusal_recorded(services.limiter, subject, details)


def unrecorded(request: Request) -> bool:
    """Whether this request's refusal was counted, not recorded: it is then answered a
    plain 429, never with what the refusal would have said (red team 22: a flood first,
    then probes past the budget learnt unseen which entries exist, or why)."""
    return getattr(request.state, "refusal_unrecorded", False) is True


UNRECORDED_BODY = {
    "code": "rate_limited",
    "message": "too many refused requests; wait for your rate limit to turn",
}


async def record_refusal(
    request: Request,
    *,
    status: int,
    code: str,
    exc: BaseException | None = None,
    problems: list[list[str]] | None = None,
) -> bool:
    """Put an error response on record; False when the audit trail refused it (the
    caller then answers 503)."""
    path = request.url.path
    if status < 400:
        return True
    if is_audited(exc) or is_audited(getattr(exc, "__cause__", None)):
        return True
    client = request.client.host if request.client else None
    console = path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")
    if console:
        try:
            user = await _console_caller(request)
        except Unavailable:  # a session the trail cannot judge (``PasswordTrail``): 503
            return False
    else:
        user = None if isinstance(exc, Unauthenticated) else await _caller(request)
    if user is None:
        if _BUDGET.take():
            log.info("request_refused_unauthenticated", status=status, code=code,
                     method=request.method, path=clean(path), client=client)  # fmt: skip
        return True
    details: dict[str, Any] = {"status": status, "code": code, "method": request.method,
                               "path": clean(path)}  # fmt: skip
    if not await run_in_threadpool(budget_allows, get_services(request), user.subject, details):
        request.state.refusal_unrecorded = True  # answered 429 alone (``unrecorded``)
        return True
    if console:
        details["console"] = True
    if isinstance(exc, SluiceError):
        details["message"] = clean(exc.message)
    if problems:
        details["problems"] = [[clean(part, 64) for part in loc[:6]]
                               for loc in problems[:MAX_PROBLEMS]]  # fmt: skip
    event = refusal_event(
        actor=Actor.of(user),
        path=clean(path, 300),
        status=status,
        client=client,
        request_id=uuid.uuid4().hex,
        details=details,
    )
    try:
        await run_in_threadpool(get_services(request).audit.append, event)
    except Exception as failure:  # any failure to record fails closed
        log.error("refusal_not_recorded", path=clean(path), status=status,
                  error=type(failure).__name__)  # fmt: skip
        return False
    return True
