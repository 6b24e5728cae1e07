"""Who may register and edit sources and entries, and the audit events they cause.

Two gates, both always applied (defence in depth): the casbin ``Authorizer`` when it is
wired (role ⇒ action in the department's domain), and the department rule enforced
here: a steward acts only on their own department's sources and entries. The second
gate does not depend on policy data, so a mis-assigned casbin role cannot open another
department's sources.

Audit events are appended *after* every check that can refuse (permission, validation,
connection test) and *before* the change is flushed: the audit writer may share the
catalog database (SQLite allows one writer), so appending while this unit of work holds
the write lock would stall; and appending first keeps the trail fail-closed — if the
event cannot be written, nothing is saved.
"""

from __future__ import annotations

from typing import Any

from audit.event_types import EventType
from audit.records import Actor, registration_event
from catalog.errors import Forbidden
from gateway.core.services import Services
from policies.authorizer import RoleAuthorizer
from policies.decision import UserContext

STEWARD = "steward"
READ_ANY_ROLES = frozenset({"admin"})
READ_ACTION = "source:edit"  # a steward's action in the domain: they may read it too


def require_steward(*, services: Services, user: UserContext, department: str, action: str) -> None:
    """Raise ``Forbidden`` unless ``user`` is a steward of ``department`` allowed ``action``."""
    if STEWARD not in user.roles:
        raise Forbidden(f"{action} needs the steward role", action=action)
    if not user.department or user.department != department:
        raise Forbidden(
            f"a steward of {user.department or 'no department'} may not act on "
            f"department {department}'s sources or entries",
            action=action,
        )
    services.authorizer.check(subject=user.subject, domain=department, action=action)


def require_reader(*, authorizer: RoleAuthorizer, user: UserContext, department: str) -> None:
    """Reading a source's description: its own stewards (the department *and* the
    steward's role in its domain, as for every write), or an admin."""
    if READ_ANY_ROLES.intersection(user.roles):
        return
    if is_steward_of(authorizer, user, department):
        return
    raise Forbidden(f"only stewards of {department} may see its sources")


def is_steward_of(authorizer: RoleAuthorizer, user: UserContext, department: str) -> bool:
    """Both gates: ``department`` is the user's own, and casbin gives them a steward's
    action in its domain (a steward moved to another department keeps no eyes on it
    without the role there)."""
    return (STEWARD in user.roles and bool(department) and user.department == department
            and authorizer.allowed(subject=user.subject, domain=department,
                                   action=READ_ACTION))  # fmt: skip


def emit(
    *,
    services: Services,
    user: UserContext,
    event_type: EventType,
    resource: str,
    department: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit event (never carrying a secret); fail closed like every append."""
    services.audit.append(
        registration_event(
            type_=event_type,
            actor=Actor.of(user),
            resource=resource,
            department=department,
            details=details,
        )
    )
