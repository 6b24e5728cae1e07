"""Admin (``users:manage``): users, clearances, jurisdictions, roles and console passwords.

The forms call the API's handlers in ``gateway.web.routes.users`` with the console's
request (the same service, the same ``user.updated`` / ``role.*`` events on record before
the commit, the same separation of duties: an admin never changes their own account —
another admin must). Passwords are set as ``sluice users passwd`` sets them (argon2id
through ``LocalAccounts``, failures and lockout cleared, ``user.updated`` with
``{"password": "set"}`` on record first); the same rule keeps an admin off their own,
and off every admin's and security officer's: a password an admin chose never signs in
a privileged account (``gateway.web.console.passwords``).
A password is never echoed back, logged or put in a URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from audit.records import Actor
from catalog import service as catalog
from catalog.errors import BadRequest, Forbidden
from catalog.models import User
from gateway.stewardship.users import service
from gateway.web.console.caller import Caller
from gateway.web.console.forms import Form
from gateway.web.console.guard import ConsoleRoute, csrf_form, page_permission
from gateway.web.console.pages.audit import model
from gateway.web.console.passwords import ADMIN_SET_PREFIX, check_new_password, is_privileged
from gateway.web.console.rendering import left_as_shown, render
from gateway.web.console.runtime import Console, get_console
from gateway.web.routes import users as api
from policies.decision import UserContext

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
may_manage = page_permission("users:manage")
ROLES = ("analyst", "steward", "security_officer", "admin")
CLEARANCES = ("L1", "L2", "L3", "L4")
DONE = ("saved", "role_added", "role_removed", "password_set")


def _href(subject: str) -> str:
    return f"/console/admin/users/{quote(subject, safe='')}"


def _with_session(console: Console, work: Callable[[Session], Any]) -> Any:
    session = console.services.sessions()
    try:
        return work(session)
    finally:
        session.close()


@router.get("/console/admin")
async def users_page(request: Request, caller: Caller = Depends(may_manage)) -> Response:
    console = get_console(request)

    def load(session: Session) -> dict[str, Any]:
        return {"users": service.list_users(session=session, services=console.services),
                "departments": catalog.list_departments(session=session)}  # fmt: skip

    data = await run_in_threadpool(_with_session, console, load)
    return render(request, "admin.html", clearances=CLEARANCES, **data)


@router.get("/console/admin/users/{subject}")
async def user_page(
    request: Request, subject: str, done: str = Query("", max_length=16),
    caller: Caller = Depends(may_manage),
) -> Response:  # fmt: skip
    console = get_console(request)

    def load(session: Session) -> dict[str, Any]:
        user = service.get_user(session=session, subject=subject)
        return {"user": service.describe(services=console.services, user=user),
                "departments": catalog.list_departments(session=session),
                "has_password": console.accounts.has_password(subject)}  # fmt: skip

    data = await run_in_threadpool(_with_session, console, load)
    is_self = subject.strip().casefold() == caller.user.subject.strip().casefold()
    return render(request, "admin_user.html", roles=ROLES, clearances=CLEARANCES,
                  all_regions=service.ALL_REGIONS, is_self=is_self,
                  done=done if done in DONE else "", href=_href(subject), **data)  # fmt: skip


def _put(request: Request, admin: UserContext, subject: str, form: Form) -> None:
    status = form.get("status") or None
    prefixes = service.parse_jurisdiction(form.get("jurisdiction"))  # as the CLI reads it
    sent = form.get("display_name")

    def put(session: Session) -> Any:
        body = model(api.UserIn, display_name=_name_as_held(session, subject, sent),
                     department=form.get("department") or None,
                     clearance=form.get("clearance"), jurisdiction=prefixes,
                     status=status)  # fmt: skip
        return api.put_user(subject, body, request, admin, session)

    _with_session(get_console(request), put)


def _name_as_held(session: Session, subject: str, sent: str) -> str:
    """The display name the user holds if ``sent`` is its page display (``left_as_shown``): the
    form sends the whole user, and a name left as shown was saved as its escape."""
    held = session.get(User, subject)
    name = held.display_name if held is not None else None
    return left_as_shown(sent, name if isinstance(name, str) else None)


def _subject(raw: str) -> str:
    subject = raw.strip()
    if not subject or len(subject) > 128:
        raise BadRequest("subject: 1 to 128 characters")
    return subject


@router.post("/console/admin/users")
async def create_user(
    request: Request, caller: Caller = Depends(may_manage), form: Form = Depends(csrf_form)
) -> Response:
    subject = _subject(form.get("subject"))
    await run_in_threadpool(_put, request, caller.user, subject, form)
    return RedirectResponse(_href(subject) + "?done=saved", status_code=303)


@router.post("/console/admin/users/{subject}")
async def update_user(
    request: Request, subject: str,
    caller: Caller = Depends(may_manage), form: Form = Depends(csrf_form),
) -> Response:  # fmt: skip
    await run_in_threadpool(_put, request, caller.user, _subject(subject), form)
    return RedirectResponse(_href(subject) + "?done=saved", status_code=303)


@router.post("/console/admin/users/{subject}/roles")
async def change_role(
    request: Request, subject: str,
    caller: Caller = Depends(may_manage), form: Form = Depends(csrf_form),
) -> Response:  # fmt: skip
    """Add a role (``op=add``) or remove one (``op=remove``) in a domain (``*``: all)."""
    body = model(api.RoleIn, role=form.get("role"), domain=form.get("domain").strip() or "*")
    op = form.get("op") or "add"
    if op not in ("add", "remove"):
        raise BadRequest("op is add or remove")

    def work(session: Session) -> Any:
        if op == "add":
            return api.assign(subject, body, request, caller.user, session)
        return api.unassign(subject, body.role, body.domain, request, caller.user, session)

    await run_in_threadpool(_with_session, get_console(request), work)
    done = "role_added" if op == "add" else "role_removed"
    return RedirectResponse(_href(subject) + f"?done={done}", status_code=303)


@router.post("/console/admin/users/{subject}/password")
async def set_password(
    request: Request, subject: str,
    caller: Caller = Depends(may_manage), form: Form = Depends(csrf_form),
) -> Response:  # fmt: skip
    """As ``sluice users passwd``: checked, typed twice, on record before it is set."""
    service.require_not_self(admin=caller.user, subject=subject)
    password = form.get("password")
    if password != form.get("confirm"):
        raise BadRequest("the two passwords differ")
    check_new_password(password)
    console = get_console(request)

    def work(session: Session) -> None:
        service.get_user(session=session, subject=subject)  # NotFound before the record
        roles = [role for role, _domain in console.services.authorizer.roles_of(subject)]
        if is_privileged(roles):  # it could not sign in with it (passwords.py)
            raise Forbidden("an admin's or security officer's password is set on the host "
                            "(sluice users passwd), never by another admin")  # fmt: skip
        # one event: set_password's user.updated, with the row's digest, names the admin
        console.accounts.set_password(
            subject=subject,
            password=password,
            set_by=ADMIN_SET_PREFIX + caller.user.subject,
            actor=Actor.of(caller.user),
        )

    await run_in_threadpool(_with_session, console, work)
    return RedirectResponse(_href(subject) + "?done=password_set", status_code=303)
