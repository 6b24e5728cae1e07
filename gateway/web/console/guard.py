"""Who is calling the console, what they may open, and how refusals look.

Order of evaluation for every page (``console_caller``), deliberate:

1. the session cookie: its signature, its row, the idle timeout (``sessions``);
2. the identity directory, read fresh as for a bearer token
   (``gateway.stewardship.users.directory``): a suspended, disabled or deleted user, or
   one whose row was changed behind the gateway (``account_unsealed``), is refused, on
   the trail, **and every session of theirs is deleted** — a suspension ends sessions,
   it does not wait for them to expire; so is a password session of an account that
   now holds a privileged role with a password another admin chose
   (``gateway.web.console.passwords``), whenever the role was given;
3. the page's own permission (``page_permission``): casbin through the same
   ``authorizer.check`` the API's ``require`` uses — the menu hides what a role may not
   use, but the server refuses it (403) whatever the menu showed;
4. for a state-changing request, the CSRF token (``csrf_form``): form field or
   ``X-CSRF-Token`` header (htmx), compared in constant time, and a cross-site
   ``Origin`` / ``Sec-Fetch-Site`` refused outright.

``ConsoleRoute`` turns every error into an HTML page (or fragment, for htmx) with its
status, and puts refusals of signed-in callers on the trail as ``request.refused``, as
``gateway.web.refusals`` does for every other path (which leaves ``/console`` to this).
A page that renders a refusal itself (the query preview and download, the ad-hoc
comparison: the policy's reasons and the request an approval would lift) puts it on
record through ``refusal_shown`` first — once: one the broker recorded is ``audited``.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import quote, urlsplit

import structlog
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from audit.records import Actor, refusal_event
from catalog.errors import (
    AccountDisabled,
    AccountUnsealed,
    Forbidden,
    SluiceError,
    Unauthenticated,
    Unavailable,
    is_audited,
)
from gateway.web.console.caller import Caller
from gateway.web.console.forms import Form, read_form
from gateway.web.console.passwords import is_privileged
from gateway.web.console.rendering import is_htmx, render
from gateway.web.console.runtime import get_console
from gateway.web.console.sessions import SESSION_COOKIE
from gateway.web.deps import count_call, get_services
from gateway.web.refusals import budget_allows, clean, console_session_user, unrecorded
from policies.decision import UserContext

log = structlog.get_logger("sluice.console")

SIGN_IN = "/console/sign-in"


class SignInRequired(Exception):
    """No live session (or it just ended): the answer is the sign-in page."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class AdminChosenPassword(Exception):
    """A privileged account signed in with a password another admin chose."""


class CsrfRefused(Forbidden):
    """A state-changing console request without a valid CSRF token."""

    code = "csrf_refused"


async def console_caller(request: Request) -> Caller:
    """The signed-in caller (see the module docstring), or ``SignInRequired``."""
    console = get_console(request)
    session = await run_in_threadpool(console.sessions.find, request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise SignInRequired("expired" if request.cookies.get(SESSION_COOKIE) else "")

    def resolve() -> UserContext:
        token_user = UserContext(subject=session.subject, department=None, roles=(),
                                 clearance="L1", jurisdiction=())  # fmt: skip
        request.state.account_read_at = time.monotonic()  # a download's Governor counts from it
        try:
            user = console.directory.resolve(token_user)
        except (AccountDisabled, AccountUnsealed, Unauthenticated):
            console.sessions.end_all(session.subject)
            raise
        if (
            session.via == "password"
            and is_privileged(user.roles)
            and console.accounts.admin_chose(user.subject)
        ):
            console.sessions.end_all(session.subject)
            raise AdminChosenPassword()
        return user

    try:
        user = await run_in_threadpool(resolve)
    except AdminChosenPassword:
        raise SignInRequired("admin_password") from None
    except (AccountDisabled, AccountUnsealed, Unauthenticated) as exc:
        # on the trail as the API's refusal is: the session's subject, the true reason
        request.state.user = UserContext(subject=session.subject, department=None, roles=(),
                                         clearance="L1", jurisdiction=())  # fmt: skip
        if not await _record(request, exc.http_status, exc.code, exc):
            raise Unavailable("audit trail unavailable") from None
        raise SignInRequired("disabled") from None
    caller = Caller(user=user, session=session)
    request.state.user = user  # who the refusal records name
    request.state.console_caller = caller
    return caller


def page_permission(action: str, domain: str = "*") -> Callable[..., Awaitable[Caller]]:
    """A dependency: the caller, if casbin allows ``action`` (else 403)."""

    async def dependency(request: Request, caller: Caller = Depends(console_caller)) -> Caller:
        get_console(request).services.authorizer.check(
            subject=caller.user.subject, domain=domain, action=action
        )
        # a page of a role's own work: many are audited reads (a run's hit list, the
        # audit pages), each showing a chained event, so every one counts (red team 29)
        await count_on_rate(request, caller)
        return caller

    dependency.__name__ = f"console_{action.replace(':', '_')}"
    return dependency


def same_origin(request: Request) -> bool:
    """Whether the browser says the request came from the console's own pages (Fetch
    metadata, then ``Origin``): the first gate of every state-changing form, and of the
    sign-in form, which has no session yet to hold a CSRF token."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return origin == _own_origin(request)


def _own_origin(request: Request) -> str:
    """``scheme://host[:port]`` of the console: ``SLUICE_PUBLIC_URL``'s when set, never
    then the client's ``Host`` — a page whose name was rebound to the gateway's address
    sends its own name as both ``Host`` and ``Origin`` (red team 30). Without it, the
    request's ``Host``: one of the gateway's own names, the others refused before any
    route (``gateway.web.allowed_hosts``, the thirty-fourth pass)."""
    configured = get_services(request).settings.public_url
    if configured:
        parts = urlsplit(configured)
        return f"{parts.scheme}://{parts.netloc}"
    return f"{request.url.scheme}://{request.url.netloc}"


async def csrf_form(request: Request, caller: Caller = Depends(console_caller)) -> Form:
    """The form of a state-changing request, once its CSRF token is checked."""
    if not same_origin(request):
        raise CsrfRefused("cross-site request refused")
    is_form = (
        request.headers.get("content-type", "")
        .lower()
        .startswith("application/x-www-form-urlencoded")
    )
    sent = request.headers.get("x-csrf-token")
    if not sent and not is_form:  # no token can be in a body that is not a form
        raise CsrfRefused("missing CSRF token")
    form = await read_form(request) if is_form else Form([])
    sent = sent or form.get("csrf_token")
    if not sent or not hmac.compare_digest(sent.encode(), caller.session.csrf_token.encode()):
        raise CsrfRefused("missing or wrong CSRF token")
    # a state-changing form is an audited call: counted on the caller's rate as the API's
    # are (``gateway.web.current_user.audited_user``), 429 past it; uncounted, a signed-in
    # user filed access requests through the console as fast as it answered, each a
    # durable chained event (left by the twenty-seventh pass)
    await count_on_rate(request, caller)
    return form


async def count_on_rate(request: Request, caller: Caller) -> None:
    """Count this console request on the caller's rate (``SLUICE_RATE_LIMIT``), once
    however many of its dependencies (or its records, ``count_call``) ask: 429 past it,
    before anything is read or recorded. Asked by every permissioned page and every
    state-changing form — the pages a role works in, many of them audited reads whose
    every showing is a chained event (a run's hit list, the audit pages: red team 29) —
    and by the home page where it records; the API's audited calls count the same way
    (``audited_user``)."""
    await run_in_threadpool(count_call, request, caller.user.subject)


def sign_in_redirect(request: Request, reason: str) -> Response:
    target = SIGN_IN + (f"?m={quote(reason)}" if reason else "")
    if is_htmx(request):  # htmx follows HX-Redirect with a full page load
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


_MESSAGES = {400: "error.bad_request", 403: "error.forbidden", 404: "error.not_found",
             429: "error.too_many", 503: "error.unavailable"}  # fmt: skip
# a row changed behind the gateway (423): the page says which kind, in the page's
# language, and the refusal's own message names the row (a bare "something went
# wrong" left the steward or analyst guessing at a refusal the API explains)
_UNSEALED = {
    code: f"error.{code}"
    for code in ("entry_unsealed", "source_unsealed", "model_unsealed", "schedule_unsealed")
}
_DETAILED = (400, 404, 409, 413, 423)


async def _record(request: Request, status: int, code: str, exc: BaseException) -> bool:
    """``request.refused`` for a signed-in caller's refusal; False if not recorded."""
    if status < 400 or is_audited(exc):
        return True
    user = getattr(request.state, "user", None)
    if not isinstance(user, UserContext):  # refused before the page knew its caller
        try:
            user = await console_session_user(request)
        except Unavailable:  # a session the trail cannot judge (``PasswordTrail``): 503
            return False
    if user is None:
        return True
    details: dict[str, Any] = {"status": status, "code": code, "method": request.method,
                               "path": clean(request.url.path), "console": True}  # fmt: skip
    if isinstance(exc, SluiceError):
        details["message"] = clean(exc.message)
    services = get_console(request).services
    # one user's refusals recorded up to their rate, then counted (red team 22)
    if not await run_in_threadpool(budget_allows, services, user.subject, details):
        request.state.refusal_unrecorded = True  # the page says 429 alone
        return True
    event = refusal_event(actor=Actor.of(user), path=clean(request.url.path, 300), status=status,
                          client=request.client.host if request.client else None,
                          request_id=uuid.uuid4().hex, details=details)  # fmt: skip
    try:
        await run_in_threadpool(services.audit.append, event)
    except Exception as failure:  # fail closed: the caller gets a 503
        log.error("console_refusal_not_recorded", status=status, error=type(failure).__name__)
        return False
    return True


async def refusal_shown(request: Request, exc: SluiceError) -> Response | None:
    """On record, a refusal the page is about to render itself; None: render it. The
    policy's own are on record already (``query.denied``); one behind it (the planner's
    defence in depth) was shown and recorded nowhere, where the API's answer records it
    (rows35). The error page instead when the trail refused it (503) or it was counted,
    not recorded (429), as ``error_page`` answers."""
    if not await _record(request, exc.http_status, exc.code, exc):
        return _error_render(request, 503, "unavailable", "")
    if unrecorded(request):
        return _error_render(request, 429, "rate_limited", "")
    return None


async def error_page(request: Request, status: int, code: str, exc: BaseException,
                     detail: str = "") -> Response:  # fmt: skip
    if not await _record(request, status, code, exc):
        status, code, detail = 503, "unavailable", ""
    elif unrecorded(request):  # counted, not recorded: nothing of what was refused
        status, code, detail = 429, "rate_limited", ""
    return _error_render(request, status, code, detail)


def _error_render(request: Request, status: int, code: str, detail: str) -> Response:
    key = ("error.csrf" if code == CsrfRefused.code
           else _UNSEALED.get(code) or _MESSAGES.get(status, "error.title"))  # fmt: skip
    return render(request, "error.html", status=status, message_key=key, detail=detail,
                  code=code)  # fmt: skip


class ConsoleRoute(APIRoute):
    """Routes whose errors are HTML pages, never the API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as exc:
                return sign_in_redirect(request, exc.reason)
            except SluiceError as exc:
                detail = exc.message if exc.http_status in _DETAILED else ""
                return await error_page(request, exc.http_status, exc.code, exc, detail)
            except StaleDataError as exc:  # a compare-and-set lost to another request
                return await error_page(
                    request, 409, "conflict", exc, "changed by another request meanwhile; reload it"
                )
            except RequestValidationError as exc:
                return await error_page(
                    request,
                    400,
                    "bad_request",
                    exc,
                    "; ".join(str(e.get("msg", "")) for e in exc.errors()),
                )
            except StarletteHTTPException as exc:
                if isinstance(exc.__cause__, SluiceError):  # errors reading the body
                    cause = exc.__cause__
                    return await error_page(request, cause.http_status, cause.code, cause)
                return await error_page(request, exc.status_code, "http_error", exc)

        return wrapped
