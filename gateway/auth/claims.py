"""Token claims → ``UserContext``, with configurable claim names.

Providers put attributes in different places (Keycloak: ``realm_access.roles``), so
each name may be a dotted path into nested objects. Missing attributes fall to the
least privilege (no department, no roles, clearance ``L1``, no jurisdiction); present
but malformed ones reject the token rather than being guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from catalog.errors import Unauthenticated
from catalog.vocabulary import Level
from policies.decision import UserContext

if TYPE_CHECKING:
    from gateway.core.settings import Settings

MAX_SUBJECT_CHARS = 128
MAX_LIST_ITEMS = 64
_MISSING = object()
LEVELS = frozenset(level.value for level in Level)


@dataclass(frozen=True)
class ClaimNames:
    """Where each attribute lives in the token (dotted paths allowed)."""

    subject: str = "sub"
    department: str = "dept"
    roles: str = "roles"
    clearance: str = "clearance"
    jurisdiction: str = "jurisdiction"


def get_claim(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted ``path``; ``_MISSING`` when any step is absent."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def set_claim(claims: dict[str, Any], path: str, value: Any) -> None:
    """Put ``value`` at a dotted ``path``, creating nested objects (used when minting)."""
    *parents, last = path.split(".")
    target = claims
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _bad(name: str) -> Unauthenticated:
    return Unauthenticated(f"invalid token: malformed claim {name}")


def _string_list(value: Any, name: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    """A list of strings; ``allow_empty`` admits ``""`` (the jurisdiction prefix that
    matches every region code)."""
    if value is _MISSING or value is None:
        return ()
    if isinstance(value, str):
        value = value.split()  # space-separated, as in OAuth "scope"
    if not isinstance(value, list) or len(value) > MAX_LIST_ITEMS:
        raise _bad(name)
    if not all(isinstance(item, str) and (item or allow_empty) for item in value):
        raise _bad(name)
    return tuple(value)


def to_user_context(claims: dict[str, Any], names: ClaimNames) -> UserContext:
    """Map verified claims to the caller's ``UserContext``."""
    subject = get_claim(claims, names.subject)
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT_CHARS:
        raise _bad("sub")
    department = get_claim(claims, names.department)
    if department is _MISSING:
        department = None
    elif department is not None and not (isinstance(department, str) and department):
        raise _bad("department")
    clearance = get_claim(claims, names.clearance)
    if clearance is _MISSING or clearance is None:
        clearance = Level.L1.value
    elif not isinstance(clearance, str) or clearance not in LEVELS:
        raise _bad("clearance")
    return UserContext(
        subject=subject,
        department=department,
        roles=_string_list(get_claim(claims, names.roles), "roles"),
        clearance=clearance,
        jurisdiction=_string_list(
            get_claim(claims, names.jurisdiction), "jurisdiction", allow_empty=True
        ),
    )


def claim_names_from(settings: Settings) -> ClaimNames:
    """The claim names ``settings`` configure (here, not beside the validator: ``sluice
    token`` needs them without the validation stack)."""
    return ClaimNames(
        department=settings.claim_department,
        roles=settings.claim_roles,
        clearance=settings.claim_clearance,
        jurisdiction=settings.claim_jurisdiction,
    )
