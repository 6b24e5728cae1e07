"""Sign-in, sign-out and the OIDC callback; every sign-in, failure and sign-out is on
the audit trail (``auth.signed_in``, ``auth.sign_in_failed``, ``auth.signed_out``).

A session exists only once its sign-in is on record: the row is created, the event
appended (fail closed), and the row deleted again if the append fails. Attempts are
bounded per client address (``AttemptWindow``) *before* anything is written, since an
anonymous caller chooses how many failures the trail receives. The name tried is kept
on record only for an unknown account (bounded, control characters removed); the
password never is.

With an OIDC provider configured, local passwords are off (the sign-in page offers the
provider only, and a posted password is refused): one way in, the provider's.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from audit.event_types import EventType, Outcome
from audit.records import Actor, AuditEvent
from catalog.errors import (
    AccountDisabled,
    AccountUnsealed,
    Forbidden,
    SluiceError,
    Unauthenticated,
)
from gateway.web.console.caller import Caller
from gateway.web.console.forms import Form, read_form
from gateway.web.console.guard import ConsoleRoute, csrf_form, same_origin
from gateway.web.console.oidc import Attempt, OidcClient
from gateway.web.console.passwords import MAX_PASSWORD_CHARS, CheckResult, is_privileged
from gateway.web.console.rendering import render
from gateway.web.console.runtime import Console, get_console
from gateway.web.console.sessions import PRE_COOKIE, PRE_COOKIE_MAX_AGE_S, SESSION_COOKIE
from gateway.web.public_origin import public_url_for, served_over_https
from gateway.web.refusals import clean
from policies.decision import UserContext

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

# ``?m=`` of the sign-in page: only these, never echoed text
NOTICES = {"expired": "sign_in.expired", "disabled": "sign_in.disabled",
           "signed_out": "sign_in.signed_out", "oidc_failed": "sign_in.oidc_failed",
           "unknown_user": "sign_in.unknown_user",
           "admin_password": "sign_in.admin_password"}  # fmt: skip


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _event(request: Request, type_: EventType, *, user: UserContext | None, via: str,
           outcome: Outcome, **details: Any) -> AuditEvent:  # fmt: skip
    who = Actor.of(user) if user is not None else Actor("anonymous", None)
    return AuditEvent(type=type_, actor=who, outcome=outcome, resource="console",
                      client=_client(request), details={"via": via, **details})  # fmt: skip


async def _append(console: Console, event: AuditEvent) -> None:
    await run_in_threadpool(console.services.audit.append, event)


def _cookie_options(request: Request) -> dict[str, Any]:
    return {"httponly": True, "secure": served_over_https(request), "path": "/"}


class _ResetMeanwhile(Exception):
    """The password a sign-in verified was replaced before its session existed."""


async def _start_session(request: Request, console: Console, user: UserContext,
                         via: str, verified_row: str | None = None) -> str:  # fmt: skip
    """Create the session, then put it on record; the cookie value. A password sign-in
    passes the row it verified: replaced by a reset meanwhile, the session is ended
    before it is on record or handed out (``_ResetMeanwhile``; ``still_current``)."""
    cookie, session = await run_in_threadpool(console.sessions.create, subject=user.subject,
                                              via=via)  # fmt: skip
    if verified_row is not None and not await run_in_threadpool(
        console.accounts.still_current, user.subject, verified_row
    ):
        await run_in_threadpool(console.sessions.end, session)
        raise _ResetMeanwhile
    try:
        await _append(
            console,
            _event(
                request,
                EventType.AUTH_SIGNED_IN,
                user=user,
                via=via,
                outcome=Outcome.OK,
                session=session.id_hash[:16],
            ),
        )
    except BaseException:
        await run_in_threadpool(console.sessions.end, session)
        raise
    return cookie


def _signed_in(request: Request, cookie: str, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, samesite="strict", **_cookie_options(request))
    response.delete_cookie(PRE_COOKIE, path="/console")
    return response


def _sign_in_page(request: Request, *, status: int = 200, notice: str | None = None,
                  username: str = "") -> Response:  # fmt: skip
    console = get_console(request)
    nonce = secrets.token_urlsafe(24)
    response = render(request, "sign_in.html", status=status, notice=notice,
                      pre_token=nonce, username=username,
                      oidc=console.uses_oidc)  # fmt: skip
    response.set_cookie(PRE_COOKIE, console.signer.pack("pre", {"n": nonce}),
                        max_age=PRE_COOKIE_MAX_AGE_S, samesite="strict", httponly=True,
                        secure=served_over_https(request), path="/console")  # fmt: skip
    return response


@router.get("/console/sign-in")
async def sign_in_page(request: Request, m: str = "") -> Response:
    console = get_console(request)
    if await run_in_threadpool(console.sessions.find, request.cookies.get(SESSION_COOKIE)):
        return RedirectResponse("/console", status_code=303)
    return _sign_in_page(request, notice=NOTICES.get(m))


def _pre_nonce_ok(console: Console, request: Request, form: Form) -> bool:
    pre = console.signer.unpack("pre", request.cookies.get(PRE_COOKIE),
                                max_age_s=PRE_COOKIE_MAX_AGE_S)  # fmt: skip
    sent = form.get("csrf_token")
    expected = str(pre.get("n", "")) if pre else ""
    return bool(sent and expected and hmac.compare_digest(sent.encode(), expected.encode()))


def _stub(subject: str) -> UserContext:
    """A name the trail can carry before the directory has said who it is."""
    return UserContext(subject=subject, department=None, roles=(), clearance="L1",
                       jurisdiction=())  # fmt: skip


async def _failed(request: Request, console: Console, user: UserContext | None, via: str,
                  reason: str, **details: Any) -> None:  # fmt: skip
    await _append(
        console,
        _event(
            request,
            EventType.AUTH_SIGN_IN_FAILED,
            user=user,
            via=via,
            outcome=Outcome.DENIED,
            reason=reason,
            **details,
        ),
    )


async def _directory(console: Console, username: str) -> tuple[UserContext | None, str | None]:
    """Who ``username`` is now, or why they may not sign in whatever the password
    (``account_disabled``; ``account_unsealed`` for a row changed behind the gateway,
    red team 14; ``unauthenticated`` for a password row whose user is gone). Read for
    every name tried, before the password, so both answers cost the same."""
    try:
        return await run_in_threadpool(console.directory.resolve, _stub(username)), None
    except (AccountDisabled, AccountUnsealed, Unauthenticated) as exc:
        return None, exc.code


@router.post("/console/sign-in")
async def sign_in(request: Request) -> Response:
    console = get_console(request)
    if console.uses_oidc:
        raise Forbidden("local accounts are off: sign in with the identity provider")
    form = await read_form(request)
    if not same_origin(request) or not _pre_nonce_ok(console, request, form):
        return _sign_in_page(request, status=403, notice="error.csrf")
    if not console.attempts.take(_client(request) or "?"):
        return _sign_in_page(request, status=429, notice="sign_in.throttled")
    username = form.get("username").strip()
    password = form.get("password")
    result = CheckResult("unknown_account")
    user: UserContext | None = None
    if 0 < len(username) <= 128 and 0 < len(password) <= MAX_PASSWORD_CHARS:
        user, refused = await _directory(console, username)
        result = await run_in_threadpool(console.accounts.check, subject=username,
                                         password=password, refused=refused)  # fmt: skip
    outcome = result.outcome
    if outcome == "unknown_account":
        await _failed(request, console, None, "password", outcome, claimed=clean(username, 64))
        if console.unknown_names.failed(username):  # answered as an account's lock is
            return _sign_in_page(request, status=403, notice="sign_in.locked",
                                 username=username)  # fmt: skip
        return _sign_in_page(request, status=401, notice="sign_in.failed", username=username)
    if outcome != "ok" or user is None:
        # a suspended or disabled account's right password: the true reason on record,
        # the answer a wrong password's (``LocalAccounts.check``)
        answered = {"answered": outcome} if result.withheld else {}
        await _failed(request, console, _stub(username), "password",
                      result.withheld or outcome, **answered)  # fmt: skip
        notice = "sign_in.locked" if outcome == "locked" else "sign_in.failed"
        return _sign_in_page(request, status=403 if outcome == "locked" else 401,
                             notice=notice, username=username)  # fmt: skip
    if is_privileged(user.roles) and await run_in_threadpool(console.accounts.admin_chose,
                                                             user.subject):  # fmt: skip
        await _failed(request, console, user, "password", "password_chosen_by_an_admin")
        return _sign_in_page(request, status=403, notice="sign_in.admin_password")
    try:
        cookie = await _start_session(request, console, user, "password",
                                      verified_row=result.row or "")  # fmt: skip
    except _ResetMeanwhile:  # the old password of a reset: answered as a wrong one
        await _failed(request, console, user, "password", "password_reset_meanwhile",
                      answered="wrong_password")  # fmt: skip
        return _sign_in_page(request, status=401, notice="sign_in.failed", username=username)
    return _signed_in(request, cookie, "/console")


@router.post("/console/sign-out")
async def sign_out(request: Request, _form: Form = Depends(csrf_form)) -> Response:
    console = get_console(request)
    caller: Caller = request.state.console_caller
    await run_in_threadpool(console.sessions.end, caller.session)
    await _append(console, _event(request, EventType.AUTH_SIGNED_OUT, user=caller.user,
                                  via=caller.session.via, outcome=Outcome.OK,
                                  session=caller.session.id_hash[:16]))  # fmt: skip
    response = RedirectResponse("/console/sign-in?m=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- OIDC -------------------------------------------------------------------------


def _oidc(console: Console) -> OidcClient:
    if not isinstance(console.oidc, OidcClient):
        raise Forbidden("no identity provider is configured: sign in with a password")
    return console.oidc


def _callback_url(request: Request) -> str:
    """The redirect URI, under the gateway's public base (never the Host header)."""
    return public_url_for(request, "console_oidc_callback")


@router.get("/console/oidc/start")
async def oidc_start(request: Request) -> Response:
    console = get_console(request)
    client = _oidc(console)
    url, attempt = await run_in_threadpool(client.begin, redirect_uri=_callback_url(request))
    response = RedirectResponse(url, status_code=303)
    # Lax, not Strict: the provider's redirect back is a cross-site navigation
    response.set_cookie(PRE_COOKIE, console.signer.pack("oidc", {
        "s": attempt.state, "o": attempt.nonce, "v": attempt.verifier,
    }), max_age=PRE_COOKIE_MAX_AGE_S, samesite="lax", **{**_cookie_options(request),
                                                          "path": "/console"})  # fmt: skip
    return response


def _back_to_sign_in(reason: str) -> Response:
    return RedirectResponse(f"/console/sign-in?m={quote(reason)}", status_code=303)


@router.get("/console/oidc/callback", name="console_oidc_callback")
async def oidc_callback(request: Request, code: str = "", state: str = "") -> Response:
    console = get_console(request)
    client = _oidc(console)
    pre = console.signer.unpack("oidc", request.cookies.get(PRE_COOKIE),
                                max_age_s=PRE_COOKIE_MAX_AGE_S)  # fmt: skip
    if (
        not pre
        or not code
        or not state
        or len(code) > 2048
        or not hmac.compare_digest(state.encode(), str(pre.get("s", "")).encode())
    ):
        return _back_to_sign_in("oidc_failed")
    attempt = Attempt(state=str(pre["s"]), nonce=str(pre.get("o", "")),
                      verifier=str(pre.get("v", "")))  # fmt: skip
    try:
        claimed = await run_in_threadpool(
            client.finish, code=code, redirect_uri=_callback_url(request), attempt=attempt
        )
    except Unauthenticated as exc:
        await _failed(request, console, None, "oidc", clean(exc.message, 100))
        return _back_to_sign_in("oidc_failed")
    try:
        user = await run_in_threadpool(console.directory.resolve, claimed)
    except SluiceError as exc:
        await _failed(request, console, claimed, "oidc", exc.code)
        return _back_to_sign_in("disabled" if isinstance(exc, AccountDisabled)
                                else "unknown_user")  # fmt: skip
    cookie = await _start_session(request, console, user, "oidc")
    # a page, not a redirect: the browser arrived here from the provider (cross-site),
    # so a SameSite=Strict cookie set now is sent only on a navigation started here
    response = render(request, "signing_in.html", target="/console")
    response.set_cookie(SESSION_COOKIE, cookie, samesite="strict", **_cookie_options(request))
    response.delete_cookie(PRE_COOKIE, path="/console")
    return response
