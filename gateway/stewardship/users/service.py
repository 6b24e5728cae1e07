"""Administer users: attributes (department, clearance, jurisdiction, status, own-ID
token) and role assignments. Roles live in casbin (what authorises calls); the users row
keeps a copy for tokens minted by the embedded issuer. Every request reads the store
afresh (``gateway.stewardship.users.directory``), so a change here governs the next request.

Subjects never spell a role (``admin``, ``Security_Officer``…), ``*`` or the ``role:``
namespace: ``policies.rbac.is_reserved_subject`` refuses them, in any case. A new
subject fits the store (``MAX_SUBJECT``), holds no invisible, control or space
character, and does not pass for an existing user's name (``Dora`` or ``ｄｏｒａ``
beside ``dora``): the trail and the console name who acted, and a look-alike account
would have its doings read as another person's (``check_new_subject``).

A user's own resident ID number is never stored: only its keyed token (the same HMAC
the audit trail uses for "who looked up whom"), so a user pulling their own records
shows up as equal tokens.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.sink import AuditSink
from catalog.errors import BadRequest, Conflict, Forbidden, NotFound
from catalog.models import Department, User
from catalog.resident_ids import is_resident_id
from catalog.row_bindings import checker, user_key
from catalog.row_seals import restate, seals_for, user_holds
from catalog.vocabulary import Level
from gateway.core.services import Services
from gateway.enforcement.masking.id_spelling import canonical_id_number
from gateway.enforcement.query.subjects import subject_token
from gateway.stewardship.row_locks import hold_rows
from gateway.stewardship.row_trail import bind_line
from gateway.stewardship.users.directory import ACTIVE, STATUSES
from gateway.stewardship.users.emergency import (
    PRIVILEGED,
    SUSPENDED,
    keep_one_active,
    others_holding,
    require_another_active,
)
from gateway.stewardship.users.suspensions import Suspension, suspension_on_record
from policies.decision import UserContext
from policies.rbac import check_assignment, is_reserved_subject


def require_not_self(*, admin: UserContext, subject: str) -> None:
    """Separation of duties: an admin never changes their own account, else one person
    could grant themselves any role, or remove the last admin, with nobody else
    involved. The API and the console both call this before any change."""
    if subject.strip().casefold() == admin.subject.strip().casefold():
        raise Forbidden("separation of duties: another admin must change your own account",
                        subject=subject)  # fmt: skip


MAX_SUBJECT = 128  # catalog.models.User.subject
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


_NAME_LOCK = "user_name:"  # a name's write lock, beside the row's (``users/<subject>``)


def name_key(subject: str) -> str:
    """What a name reads as: compatibility forms folded (``ｄｏｒａ`` is ``dora``),
    case folded."""
    return unicodedata.normalize("NFKC", subject).casefold()


ALL_REGIONS = "*"  # typed for the empty prefix, every region (``all_regions`` in policy)


def parse_jurisdiction(text: str) -> list[str]:
    """Comma-separated region-code prefixes as an administrator types them (the
    console's user form, ``sluice users add --jurisdiction``): blank parts are no prefix,
    ``*`` is every region (the empty prefix). One parser for every door: the CLI split on
    commas and kept blank parts, so a trailing comma (``430121,``) gave every region
    while the record read as one county (red team 29)."""
    parts = [p.strip() for p in text.replace("，", ",").split(",") if p.strip()]
    return ["" if p == ALL_REGIONS else p for p in parts]


def check_new_subject(session: Session, subject: str) -> None:
    """Refuse (400) a new account's name the store cannot hold, one with characters
    that do not show (controls, format characters such as a zero-width space, spaces),
    one no API path can name (a ``/``), or one that reads as an existing user's name."""
    if len(subject) > MAX_SUBJECT:
        raise BadRequest(f"a user name has at most {MAX_SUBJECT} characters")
    if any(unicodedata.category(ch) in _HIDDEN for ch in subject):
        raise BadRequest("a user name holds no control, format or space characters")
    if "/" in subject:
        # a path parameter never holds one: no API call (suspend, revoke-grants, roles)
        # could name the account (red team 10)
        raise BadRequest("a user name holds no '/': the API names users in its paths")
    if subject in (".", ".."):
        # a dot segment: clients and proxies remove it before sending, so the officers'
        # /api/v1/users/../suspend reached /api/v1/suspend (red team 13)
        raise BadRequest("a user name is not '.' or '..': the API names users in its paths")
    key = name_key(subject)
    # under the name's write lock (held to the commit): the new row's own lock is its
    # exact name's, so ``zed`` and ``Zed`` created at once each found no look-alike and
    # both were made (red team 28); the second now waits, then finds the first
    hold_rows(session, [_NAME_LOCK + key])
    taken = next((s for s in session.scalars(select(User.subject)) if name_key(s) == key), None)
    if taken == subject:  # another request's creation of it committed meanwhile
        raise Conflict(f"{subject!r} was made by another request meanwhile; load it again")
    if taken is not None:
        raise BadRequest(f"{subject!r} reads as the existing user {taken!r}: one person, one name")


def list_users(*, session: Session, services: Services) -> list[dict[str, Any]]:
    users = session.scalars(select(User).order_by(User.subject))
    return [describe(services=services, user=u) for u in users]


def describe(*, services: Services, user: User) -> dict[str, Any]:
    return {
        "subject": user.subject,
        "display_name": user.display_name,
        "department": user.department,
        "clearance": user.clearance,
        "jurisdiction": list(user.jurisdiction or []),
        "roles": [{"role": r, "domain": d} for r, d in services.authorizer.roles_of(user.subject)],
        "status": user.status or ACTIVE,
        "has_id_number": user.id_number_hash is not None,
        # False: the row was changed behind the gateway (the values above are not the
        # gateway's, the account is refused) until an admin saves it whole (red team 14)
        "sealed": current_user_row(services.engine, user, refresh=False),
    }


def current_user_row(bind: Any, user: User, *, refresh: bool = True) -> bool:
    """Whether ``user``'s row is the gateway's: sealed (``catalog.row_seals``), and the
    newest state the trail names for it, not one written back (``catalog.row_bindings``)."""
    return user_holds(seals_for(bind), user) and checker(bind, refresh=refresh)(
        user_key(user.subject), user.seal)  # fmt: skip


def get_user(*, session: Session, subject: str) -> User:
    user = session.get(User, subject)
    if user is None:
        raise NotFound(f"no user {subject!r}")
    return user


def upsert_user(
    *,
    session: Session,
    subject: str,
    display_name: str,
    department: str | None,
    clearance: str,
    jurisdiction: list[str],
    audit: AuditSink,
    status: str | None = None,
) -> User:
    """Create or update; ``status`` None keeps the current one (``active`` when new).
    ``audit`` is read for what a row changed behind the gateway no longer says: whether
    its user is suspended (``suspensions``)."""
    if is_reserved_subject(subject):
        raise BadRequest(f"{subject!r} is reserved (a role name, '*' or 'role:…')")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    if clearance not in {level.value for level in Level}:
        raise BadRequest("clearance must be one of L1, L2, L3, L4")
    if department is not None and session.get(Department, department) is None:
        raise BadRequest(f"unknown department {department!r}")
    # ASCII digits, as region codes are everywhere: ``str.isdigit`` is true of any Unicode
    # digit (full-width, Arabic-Indic, superscripts), and such a prefix was stored as a
    # jurisdiction that reads no row (red team 60, as the schedule's county, red team 55)
    bad = [p for p in jurisdiction if not (p.isascii() and p.isdigit()) and p != ""]
    if bad:
        raise BadRequest(f"jurisdiction prefixes are region-code digits: {bad}")
    user = session.get(User, subject) if len(subject) <= MAX_SUBJECT else None
    if user is None:
        check_new_subject(session, subject)
        user = User(subject=subject, roles=[], status=ACTIVE)
        made_as_on_record(audit, user, status)
        session.add(user)
    elif not current_user_row(session.connection(), user):
        if status is None:
            # its stored status is an insider's as much as the rest: the admin says which
            raise Conflict(f"{subject!r}'s record was changed outside the gateway: save it "
                           "with its status (active or disabled) to restore it")  # fmt: skip
        refuse_restoring_suspended(audit, subject)
        # nor is its ID number's token the gateway's, and a save does not send one: set
        # it again (``has_id_number`` says so) rather than seal an insider's
        user.id_number_hash = None
    if status is not None:
        # the last-admin check reads the store: it must not flush this row (half made
        # when new), nor take SQLite's write lock before the change's events are appended
        with session.no_autoflush:
            _set_status(session, user, status)
        restate(user)  # every governing value is the admin's: a row edited behind the
        # gateway is sealed as sent (catalog.row_seals.restate)
    user.display_name = display_name
    user.department = department
    user.clearance = clearance
    user.jurisdiction = list(jurisdiction)
    return user


def refuse_restoring_suspended(audit: AuditSink, subject: str) -> None:
    """403 for a save restoring a row changed behind the gateway while the trail says
    its user is suspended: the row's status is the insider's, and a save would seal the
    admin's ``active`` or ``disabled`` (the next save then lifting ``disabled``) over a
    suspension only another admin lifts (red team 46). Unsuspend first, then save."""
    held = suspension_on_record(audit, subject)
    if held is not None:
        raise _on_record(subject, held, "though the row, changed outside the gateway, says "
                         "otherwise: another admin lifts it ({lift}), then save it")  # fmt: skip


def _on_record(subject: str, held: Suspension, advice: str) -> Forbidden:
    """The 403 naming the suspension the trail holds, and ``advice`` (``{lift}``: the
    call that lifts it)."""
    by = f" by {held.by!r}" if held.by else ""
    lift = f"POST /api/v1/users/{subject}/unsuspend"
    return Forbidden(f"{subject!r} is suspended on record{by} (event {held.seq}) "
                     + advice.format(lift=lift))  # fmt: skip


def made_as_on_record(audit: AuditSink, user: User, status: str | None) -> None:
    """A new row for a subject the trail says is suspended — its row deleted behind the
    gateway, its role lines left in place — is made suspended, as the trail says, and
    lifted by another admin (``unsuspend``); a save asking for a status is refused
    (403). Made ``active``, it lifted the suspension of the admin who imposed it, with
    no ``user.unsuspended`` on the trail (red team 47)."""
    held = suspension_on_record(audit, user.subject)
    if held is None:
        return
    if status is not None:
        raise _on_record(user.subject, held, "and its row is gone: save it without a status "
                         "to make the account again, suspended; another admin lifts it "
                         "({lift})")  # fmt: skip
    user.status = SUSPENDED
    user.suspended_by = held.by
    user.suspended_reason = f"suspended on record (event {held.seq}); the account was made again"
    user.suspended_at = datetime.now(UTC)


def _set_status(session: Session, user: User, status: str) -> None:
    if user.status == "suspended" and status != user.status:
        # an officer's suspension is lifted by unsuspend (another admin), on record
        subject = user.subject
        raise Forbidden(f"{subject!r} is suspended: POST /api/v1/users/{subject}/unsuspend")
    if status != ACTIVE and (user.status or ACTIVE) == ACTIVE:
        # the last active admin or officer stays, as for a suspension (red team 8)
        keep_one_active(session, user.subject)
    user.status = status


def assign_role(
    *,
    session: Session,
    services: Services,
    subject: str,
    role: str,
    domain: str,
    record: Callable[[], None] | None = None,
) -> User:
    """``record`` (the audit event) runs once the assignment is known to be allowed and
    before casbin writes it, which it does at once in a transaction of its own: an
    event that cannot be written leaves the roles as they were (red team 8: a role
    given while the trail was sealed took effect with the 503 and no event)."""
    user = _held_user(session, subject)
    held = services.authorizer.roles_of(subject)
    check_assignment(subject=subject, role=role, domain=domain, held=held)
    if record is not None:
        record()
    _bind_line(services, subject, role, domain, present=True)
    try:
        services.authorizer.assign(subject=subject, role=role, domain=domain)
    except Exception:
        if (role, domain) not in held:
            # casbin checks again under its lock (another admin's assignment may have
            # landed since) and wrote nothing: the trail must not name the line present,
            # or a copy of it from an earlier holding, written back, governs
            _bind_line(services, subject, role, domain, present=False)
        raise
    user.roles = sorted({*(user.roles or []), role})
    return user


def _held_user(session: Session, subject: str) -> User:
    """The user under their row's write lock (held to the commit), read afresh: a role
    change reads the roles held, records, then writes the line and ``users.roles``. Two
    at once both passed the check and both were on record ``ok``, and casbin refused
    the second under its own lock (separation of duties) after its record; each also
    rewrote ``users.roles`` from the row it had loaded (red team 25's left row)."""
    hold_rows(session, [user_key(subject)])
    user = session.get(User, subject, populate_existing=True)
    if user is None:
        raise NotFound(f"no user {subject!r}")
    return user


def _bind_line(services: Services, subject: str, role: str, domain: str, *, present: bool
               ) -> None:  # fmt: skip
    """The line's new state on the trail before casbin writes it: a line removed and
    written back behind the gateway is then no assignment (catalog.row_bindings)."""
    bind_line(services.audit, subject=subject, role=role, domain=domain, present=present,
              seals=seals_for(services.engine))  # fmt: skip


def unassign_role(
    *,
    session: Session,
    services: Services,
    subject: str,
    role: str,
    domain: str,
    record: Callable[[], None] | None = None,
) -> User:
    """``record`` runs before casbin drops the rule, as in ``assign_role``."""
    user = _held_user(session, subject)
    held = (role, domain) in services.authorizer.roles_of(subject)
    if role in PRIVILEGED and held and (user.status or ACTIVE) == ACTIVE:
        # before casbin drops the rule (its own transaction): the last active admin or
        # officer keeps the role (red team 8); a role taken while that holder is being
        # suspended can still race the suspension
        keep_one_active(session, subject, role=role, after_flush=False)
    if record is not None:
        record()
    _bind_line(services, subject, role, domain, present=False)
    services.authorizer.unassign(subject=subject, role=role, domain=domain)
    if role in PRIVILEGED and held and (user.status or ACTIVE) == ACTIVE:
        _undo_if_last(session, services, subject, role, domain)
    still = {r for r, _ in services.authorizer.roles_of(subject)}
    user.roles = sorted(still)
    return user


def _undo_if_last(session: Session, services: Services, subject: str, role: str, domain: str
                  ) -> None:  # fmt: skip
    """Once casbin has dropped the rule, another active holder again: a suspension of the
    other one may have committed meanwhile (red team 8); if none is left the rule goes
    back and the removal is refused (its event stays, followed by the refusal)."""
    try:
        require_another_active(session, subject, others_holding(session, subject, [role]))
    except Conflict:
        _bind_line(services, subject, role, domain, present=True)
        services.authorizer.assign(subject=subject, role=role, domain=domain)
        raise


def set_id_number(*, session: Session, services: Services, subject: str, id_number: str) -> User:
    """Record the user's own ID number as its keyed token. Checked by the same rule as the
    stewards' detection (``catalog.resident_ids``): an unlisted county code is no veto."""
    user = get_user(session=session, subject=subject)
    number = canonical_id_number(id_number)
    if not is_resident_id(number):
        raise BadRequest("not a valid resident ID number")
    user.id_number_hash = subject_token(services.settings.home, number)
    return user
