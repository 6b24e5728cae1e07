"""User administration for admins: attributes, role assignments, own-ID tokens.

Every change is an audit event written before the change commits (fail closed).
Separation of duties: an admin never changes their own account (roles, clearance,
jurisdiction, status, ID number) — otherwise one person could grant themselves analyst
or steward and read data or approve requests with nobody else involved, or remove the
last admin role. Another admin must (the refusal is on record as ``request.refused``).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy.orm import Session

from audit.event_types import EventType
from audit.records import Actor, user_admin_event
from gateway.stewardship.row_trail import bound_changes
from gateway.stewardship.users import service
from gateway.web.authz import require
from gateway.web.deps import get_services, get_session
from policies.decision import UserContext

router = APIRouter(prefix="/api/v1/admin/users", tags=["administration"])
require_admin = require("users:manage")


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(min_length=1, max_length=200)
    department: str | None = Field(default=None, max_length=32)
    clearance: str = Field(pattern=r"^L[1-4]$")
    jurisdiction: list[str] = Field(default_factory=list, max_length=100)
    # None keeps the current status (new users are active); "disabled" refuses the
    # user's very next request, whatever token they hold
    status: Literal["active", "disabled"] | None = None


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(min_length=1, max_length=32)
    domain: str = Field(default="*", min_length=1, max_length=32)


class IdNumberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: SecretStr


def _record(
    request: Request, admin: UserContext, subject: str, type_: EventType | str,
    details: dict[str, Any],
) -> None:  # fmt: skip
    get_services(request).audit.append(
        user_admin_event(type_=type_, actor=Actor.of(admin), subject=subject, details=details)
    )


def _done(request: Request, session: Session, subject: str) -> dict[str, Any]:
    session.commit()
    return _answer(request, session, subject)


def _answer(request: Request, session: Session, subject: str) -> dict[str, Any]:
    """The user as the change left them, read after its commit."""
    services = get_services(request)
    return service.describe(
        services=services, user=service.get_user(session=session, subject=subject)
    )


def _commit(
    request: Request,
    session: Session,
    admin: UserContext,
    subject: str,
    type_: EventType | str,
    details: dict[str, Any],
) -> dict[str, Any]:
    with bound_changes(get_services(request).audit, session):  # the row's new state first
        _record(request, admin, subject, type_, details)
        session.commit()
    # the user's own ID-number token, cached a minute per process, is read again at their
    # next request here (the own-records flag governed it up to a minute late: red team 36)
    request.app.state.broker.subjects.forget(subject)
    # the answer after the guard: a failure building it (a role read) is not the
    # change's, which committed — binding the loaded state back then refused the
    # account whose new state the row holds (rows35)
    return _answer(request, session, subject)


@router.get("")
def list_users(
    request: Request,
    _admin: UserContext = Depends(require_admin),
    session: Session = Depends(get_session),
) -> list[dict[str, Any]]:
    return service.list_users(session=session, services=get_services(request))


@router.put("/{subject}")
def put_user(
    subject: str,
    body: UserIn,
    request: Request,
    admin: UserContext = Depends(require_admin),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    service.require_not_self(admin=admin, subject=subject)
    service.upsert_user(session=session, subject=subject, audit=get_services(request).audit,
                        **body.model_dump())  # fmt: skip
    return _commit(request, session, admin, subject, "user.updated",
                   body.model_dump(exclude_none=True))  # fmt: skip


@router.post("/{subject}/roles")
def assign(
    subject: str,
    body: RoleIn,
    request: Request,
    admin: UserContext = Depends(require_admin),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    service.require_not_self(admin=admin, subject=subject)
    # on record before casbin writes the rule (its own transaction, at once)
    service.assign_role(session=session, services=get_services(request), subject=subject,
                        role=body.role, domain=body.domain,
                        record=lambda: _record(request, admin, subject, "role.assigned",
                                               body.model_dump()))  # fmt: skip
    return _done(request, session, subject)


@router.delete("/{subject}/roles/{role}/{domain}")
def unassign(
    subject: str,
    role: str,
    domain: str,
    request: Request,
    admin: UserContext = Depends(require_admin),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    service.require_not_self(admin=admin, subject=subject)
    service.unassign_role(session=session, services=get_services(request), subject=subject,
                          role=role, domain=domain,
                          record=lambda: _record(request, admin, subject, "role.unassigned",
                                                 {"role": role, "domain": domain}))  # fmt: skip
    return _done(request, session, subject)


@router.put("/{subject}/id-number")
def set_id_number(
    subject: str,
    body: IdNumberIn,
    request: Request,
    admin: UserContext = Depends(require_admin),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    """Record the user's own ID number as a keyed token (never stored in clear), so
    the trail can flag a user pulling their own records."""
    service.require_not_self(admin=admin, subject=subject)
    service.set_id_number(session=session, services=get_services(request), subject=subject,
                          id_number=body.id_number.get_secret_value())  # fmt: skip
    return _commit(request, session, admin, subject, "user.updated", {"id_number": "set"})
