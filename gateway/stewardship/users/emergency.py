"""Emergency response: a security officer (or an admin) suspends a user, freezes a
catalog entry, or revokes every grant of a user; lifting a suspension or a freeze needs
an admin who is not the one who imposed it (two people, both on record).

A suspension is the status ``suspended`` with who, why and when: the identity directory
refuses any status but ``active`` on the very next request, whatever token the user
holds. A freeze is ``datasets.frozen_at``: the broker refuses the entry's next query and
every comparison side on it (``dataset_frozen``, on record as ``query.denied``). Both
tables bump the catalog generation, so every process sees the change at once.

These functions change the session only; the route writes the audit event and commits.

Nobody suspends the last active admin or the last active security officer (red team 7):
with none left, no suspension can be lifted and no unseal approved through the API.
Order of evaluation in ``suspend``: self → the user → their status → another active
holder of each privileged role they hold → the change; and once the change is flushed,
inside its write transaction, another active holder again. Two suspensions at once (the
last two admins) are serialised there: on SQLite by the one write lock; on PostgreSQL
by the ``catalog_generation`` row every change to ``users`` updates in its transaction
(triggers, migration 0008), so the second flush waits for the first commit and its
check, a statement of its own under READ COMMITTED, sees it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from adapters.base import ANY_TABLE
from audit.sink import AuditSink
from catalog import service as catalog
from catalog.access_requests import AccessRequest
from catalog.entries import stored_entry_current
from catalog.errors import Conflict, Forbidden, NotFound
from catalog.models import Dataset, Source, User
from catalog.reidentifications import ReidentificationRequest
from catalog.row_bindings import checker, rule_key, user_key
from catalog.row_seals import seals_for, user_holds
from catalog.timestamps import utc_text
from gateway.core.services import Services
from gateway.enforcement.sources.lineage_now import reads_of_source, reads_together
from gateway.stewardship.users.chosen_passwords import chose_password_of
from gateway.stewardship.users.directory import ACTIVE
from gateway.stewardship.users.suspensions import suspension_on_record
from policies.decision import UserContext
from policies.rbac import role_key
from policies.sealed_rules import rule_holds

SUSPENDED = "suspended"
PRIVILEGED = {"admin": "admin", "security_officer": "security officer"}
"""Roles of which one active holder must always remain, with how the refusal names them."""
_HOLDERS_SQL = text(
    "SELECT ptype, v0, v1, v2, v3, v4, v5, seal FROM casbin_rule WHERE ptype = 'g' AND v1 = :role"
)  # a role is held in any domain (``*`` for these roles); only sealed lines hold it


def _same(a: str | None, b: str) -> bool:
    return a is not None and a.strip().casefold() == b.strip().casefold()


def get_user(session: Session, subject: str) -> User:
    user = session.get(User, subject)
    if user is None:
        raise NotFound(f"no user {subject!r}")
    return user


def get_dataset(session: Session, dataset_id: str) -> Dataset:
    return catalog.get_dataset(session=session, dataset_id=dataset_id, include_drafts=True)


def suspend(*, session: Session, officer: UserContext, subject: str, reason: str) -> User:
    if _same(subject, officer.subject):
        raise Forbidden("separation of duties: you cannot suspend your own account")
    user = get_user(session, subject)
    if user.status == SUSPENDED:
        raise Conflict(f"user {subject!r} is already suspended")
    if (user.status or ACTIVE) != ACTIVE:
        raise Conflict(f"user {subject!r} is {user.status}: already refused")
    keep_one_active(session, user.subject)
    user.status = SUSPENDED
    user.suspended_by = officer.subject
    user.suspended_reason = reason
    user.suspended_at = datetime.now(UTC)
    return user


def keep_one_active(
    session: Session, subject: str, *, role: str | None = None, after_flush: bool = True
) -> None:
    """Refuse (409) to take active ``subject`` out — suspended, disabled, or (with
    ``after_flush`` False, before casbin drops the rule) its ``role`` taken — when no other
    active account holds a privileged role it holds; then again once the change is
    flushed, in its write transaction, where two such changes at once are serialised
    (see the module's docstring). A suspension, the user form's ``disabled`` and a role
    taken all leave the same gap, so all go through here (red team 8: the form and the
    role took the last officer out, and a disable racing a suspension both passed)."""
    holders = {r: others for r, others in _privileged_holders(session, subject).items()
               if role is None or r == role}  # fmt: skip
    if not holders:
        return
    require_another_active(session, subject, holders)
    if after_flush:
        # the holders read again too: a role taken from the other one meanwhile
        # (casbin commits that on its own) must count (red team 8)
        def again(flushed: Session, _ctx: object) -> None:
            require_another_active(flushed, subject, others_holding(flushed, subject, holders))

        event.listen(session, "after_flush", again, once=True)


def others_holding(session: Session, subject: str, roles: Iterable[str]) -> dict[str, set[str]]:
    """For each of ``roles``, everyone but ``subject`` who holds it now."""
    return {role: _holders(session, role) - {subject}
            for role in roles}  # fmt: skip


def _holders(session: Session, role: str) -> set[str]:
    """Everyone a sealed line gives ``role`` (a line written behind the gateway is none)."""
    seals, current = seals_for(session.connection()), checker(session.connection())
    lines = session.execute(_HOLDERS_SQL, {"role": role_key(role)})
    return {line.v0 for line in lines
            if rule_holds(seals, line) and current(rule_key(line), line.seal)}  # fmt: skip


def _privileged_holders(session: Session, subject: str) -> dict[str, set[str]]:
    """For each privileged role ``subject`` holds, everyone else who holds it."""
    found: dict[str, set[str]] = {}
    for role in PRIVILEGED:
        holders = _holders(session, role)
        if subject in holders:
            found[role] = holders - {subject}
    return found


def require_another_active(session: Session, subject: str, holders: dict[str, set[str]]) -> None:
    seals, current = seals_for(session.connection()), checker(session.connection())
    for role, others in holders.items():
        candidates = session.scalars(select(User).where(
            User.subject.in_(sorted(others)), User.status == ACTIVE
        ))  # fmt: skip
        # a row edited behind the gateway is no active holder: its account is refused
        if not any(user_holds(seals, user) and current(user_key(user.subject), user.seal)
                   for user in candidates):  # fmt: skip
            name = PRIVILEGED[role]
            raise Conflict(
                f"user {subject!r} is the last active {name}: with none left, no suspension "
                "could be lifted and no unseal approved; make another account "
                f"{name} first", role=role,
            )  # fmt: skip


def unsuspend(
    *, session: Session, admin: UserContext, subject: str, audit: AuditSink
) -> tuple[User, str | None]:
    """Back to ``active``; returns the user and who had suspended them.

    Who suspended them is the trail's word (``suspensions.suspension_on_record``), not
    the row's: ``suspended_by`` is no governing value (the row's seal does not cover
    it), so an insider who rewrote it to another name let the admin who imposed the
    suspension lift it alone, the row still verifying (red team 46). And a row changed
    behind the gateway says nothing of a suspension (its status is an insider's): one
    the trail names is still lifted here, by another admin, before an admin's save
    may restore the row."""
    user = get_user(session, subject)
    on_record = suspension_on_record(audit, subject)
    seals, current = seals_for(session.connection()), checker(session.connection())
    verified = user_holds(seals, user) and current(user_key(subject), user.seal)
    if user.status != SUSPENDED and (verified or on_record is None):
        raise Conflict(f"user {subject!r} is not suspended")
    if on_record is not None and on_record.by is None:
        # the trail's newest word on it is not a gateway's: who imposed it is unknown,
        # and the row's ``suspended_by`` is an insider's to rewrite (red team 47)
        raise Forbidden("the trail's newest record of this suspension is not a gateway's: "
                        "who imposed it cannot be told; verify the trail (sluice audit "
                        "verify) before it is lifted")  # fmt: skip
    by = user.suspended_by if on_record is None else on_record.by
    # nor the admin who chose the account's console password: they can sign in as it
    # (red team 56)
    if any(_same(name, admin.subject) for name in (by, user.suspended_by, subject)) or (
        chose_password_of(audit, admin.subject, subject)
    ):
        raise Forbidden("separation of duties: another admin must lift this suspension",
                        suspended_by=by)  # fmt: skip
    user.status = ACTIVE
    user.suspended_by = user.suspended_reason = None
    user.suspended_at = None
    return user, by


def freeze(
    *, session: Session, services: Services, officer: UserContext, dataset_id: str, reason: str
) -> Dataset:
    """Freeze the entry, recording what its object reads now beside what it was recorded
    as reading (``record_reads_now``)."""
    dataset = get_dataset(session, dataset_id)
    if dataset.frozen_at is not None:
        raise Conflict(f"dataset {dataset_id!r} is already frozen")
    record_reads_now(session, services, dataset)
    dataset.frozen_at = datetime.now(UTC)
    dataset.frozen_by = officer.subject
    dataset.frozen_reason = reason
    return dataset


def record_reads_now(session: Session, services: Services, dataset: Dataset) -> None:
    """The entry's ``reads``: what it was recorded as reading and what its source says
    its object reads now (``lineage_now``), in the session, so the freeze's own binding
    and seal cover them (``row_trail.bound_changes``, as a refresh's do). The freeze
    holds every entry of its system reading a table in common, and a table moved under
    a view of its own name since the last refresh left the entry recorded as reading
    the view: a view over the moved table was published and served during the freeze
    (red team 50). A source that cannot be asked: any table (``ANY_TABLE``)."""
    source = session.get(Source, dataset.source_id)
    now = (frozenset({ANY_TABLE}) if source is None  # its source row gone: not nothing
           else reads_of_source(services, source, dataset.object_name))  # fmt: skip
    for name, value in catalog.reads_change(dataset, reads_together(dataset.reads, now)).items():
        setattr(dataset, name, value)


def unfreeze(
    *, session: Session, admin: UserContext, dataset_id: str
) -> tuple[Dataset, str | None]:
    """Lift the freeze; returns the entry and who had frozen it."""
    dataset = get_dataset(session, dataset_id)
    if dataset.frozen_at is None:
        raise Conflict(f"dataset {dataset_id!r} is not frozen")
    # who froze it is the row's word only while its seal holds: an insider's
    # ``frozen_by = 'sam'`` let the admin who froze it lift it alone, on the record
    # too, and its copies served the frozen rows again (red team 49)
    if not stored_entry_current(session.connection(), dataset.id, checker(session.connection())):
        raise Conflict(f"dataset {dataset_id!r} was changed outside the gateway: who froze "
                       "it cannot be told until its sealed values are restored")  # fmt: skip
    if _same(dataset.frozen_by, admin.subject):
        raise Forbidden("separation of duties: another admin must lift this freeze",
                        frozen_by=dataset.frozen_by)  # fmt: skip
    by = dataset.frozen_by
    dataset.frozen_at = None
    dataset.frozen_by = dataset.frozen_reason = None
    return dataset, by


def revoke_grants(
    *, session: Session, officer: UserContext, subject: str, reason: str
) -> list[AccessRequest | ReidentificationRequest]:
    """Every approved grant of ``subject`` ends now (status ``revoked``), and so does
    every request still pending: left open, a steward could approve it after the
    officer acted and the grant would come back. Re-identifications are grants too
    (raw ID numbers released on request, kept in their own table): an approved one
    released identities after the officer acted (red team 5)."""
    get_user(session, subject)
    open_ = ("approved", "pending")
    grants: list[AccessRequest | ReidentificationRequest] = [
        *session.scalars(select(AccessRequest).where(
            AccessRequest.requester == subject, AccessRequest.status.in_(open_)
        ).order_by(AccessRequest.id)),
        *session.scalars(select(ReidentificationRequest).where(
            ReidentificationRequest.requester == subject,
            ReidentificationRequest.status.in_(open_),
        ).order_by(ReidentificationRequest.id)),
    ]  # fmt: skip
    for grant in grants:
        grant.status = "revoked"
        grant.reason = f"emergency revocation by {officer.subject}: {reason}"
    return grants


def describe_user(user: User) -> dict[str, Any]:
    return {
        "subject": user.subject,
        "status": user.status or ACTIVE,
        "suspended_by": user.suspended_by,
        "suspended_reason": user.suspended_reason,
        "suspended_at": utc_text(user.suspended_at) if user.suspended_at else None,
    }


def describe_dataset(dataset: Dataset) -> dict[str, Any]:
    return {
        "id": dataset.id,
        "frozen": dataset.frozen_at is not None,
        "frozen_by": dataset.frozen_by,
        "frozen_reason": dataset.frozen_reason,
        "frozen_at": utc_text(dataset.frozen_at) if dataset.frozen_at else None,
    }
