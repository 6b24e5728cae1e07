"""The user store as each request sees it: identity is read fresh, not from the token.

A token says *who* the caller is (its subject); what they may do — department,
clearance, jurisdiction, roles, whether the account is active — is what the user store
(the ``users`` table and casbin's assignments) says now. So a downgrade, a narrowed
jurisdiction, a revoked role or a suspension governs the very next request, whatever
token the caller still holds (embedded tokens live up to 7 days).

Cost: one read of the catalog generation per request (on connections of its own:
``query.generation``), shared with the broker (``resolve_at``). ``users`` and
``casbin_rule`` bump it in the same transaction as any change (triggers, migration
0008, so an operator's SQL edit counts too); a subject's identity is loaded only when the
generation moved since it was cached (``GenerationCache``, as catalog entries are).

Order of evaluation: reserved subject (``admin``, ``role:…``) → generation → stored
identity → status. A subject missing from the store is refused (401) for the embedded
issuer and for an OIDC provider alike: the provider authenticates, the store
authorises, and an admin provisions users (``PUT /api/v1/admin/users/{subject}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from catalog.db import reads_engine
from catalog.errors import AccountDisabled, AccountUnsealed, Unauthenticated
from catalog.models import User
from catalog.row_bindings import checker, rule_key, settle, user_key
from catalog.row_seals import seals_for, user_holds
from catalog.vocabulary import Level
from gateway.enforcement.query.entries import GenerationCache
from gateway.enforcement.query.generation import GenerationReader
from policies.authorizer import RoleAuthorizer
from policies.decision import UserContext
from policies.rbac import ROLE_PREFIX, is_reserved_subject
from policies.sealed_rules import rule_holds

ACTIVE = "active"
STATUSES = (ACTIVE, "disabled")
UNSEALED = "unsealed"
"""A stored identity's status when its row does not verify (``catalog.row_seals``)."""
_LEVELS = frozenset(level.value for level in Level)
_U = User.__table__.c
_ROLES_SQL = text(
    "SELECT ptype, v0, v1, v2, v3, v4, v5, seal FROM casbin_rule WHERE ptype = 'g' AND v0 = :s"
)


@dataclass(frozen=True)
class StoredIdentity:
    """A user as the store holds them, shared between requests (read-only)."""

    context: UserContext
    status: str


def _text_list(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def load_identity(
    conn: Connection, subject: str, *, generation: int | None = None
) -> StoredIdentity | None:
    """The user's attributes and role names in two small reads (None if unknown).
    Values a hand edit may have garbled fall to least privilege; a row without a
    gateway's seal (``catalog.row_seals``), or one the trail says is no longer the
    current one (written back after a change: ``catalog.row_bindings``), is
    ``UNSEALED``, and such a role line is no role. The trail's newest bindings are read
    at most once per catalog ``generation``."""
    columns = (_U.subject, _U.department, _U.clearance, _U.jurisdiction, _U.status,
               _U.id_number_hash, _U.seal)  # fmt: skip
    query = select(*columns).where(_U.subject == subject)
    seals = seals_for(conn)
    current = checker(conn, token=generation)

    def read() -> tuple[Any, bool]:  # the user's row (None: unknown), and whether it holds
        found = conn.execute(query).first()
        return found, found is not None and user_holds(seals, found) and current(
            user_key(subject), found.seal
        )

    def in_flight(found: tuple[Any, bool]) -> bool:
        """Sealed, but not the newest state the trail names: an admin's change of the
        account may be in flight (bound before its commit); wait for it rather than
        refuse the account as tampered and end its sessions (red team 20)."""
        row, ok = found
        return row is not None and not ok and user_holds(seals, row)

    row, ok = settle(read, in_flight)
    if row is None:
        return None
    if not ok:
        nobody = UserContext(subject=subject, department=None, roles=(), clearance=Level.L1.value)
        return StoredIdentity(context=nobody, status=UNSEALED)
    held = [line.v1 for line in conn.execute(_ROLES_SQL, {"s": subject})
            if rule_holds(seals, line) and current(rule_key(line), line.seal)]  # fmt: skip
    roles = sorted({r.removeprefix(ROLE_PREFIX) for r in held if isinstance(r, str)
                    and r.startswith(ROLE_PREFIX)})  # fmt: skip
    clearance = row.clearance if row.clearance in _LEVELS else Level.L1.value
    context = UserContext(
        subject=subject,
        department=row.department or None,
        roles=tuple(roles),
        clearance=clearance,
        jurisdiction=_text_list(row.jurisdiction),
    )
    return StoredIdentity(context=context, status=str(row.status or ""))


class IdentityDirectory:
    """Maps an authenticated subject to the identity that governs this request."""

    def __init__(self, *, engine: Engine, authorizer: RoleAuthorizer, maxsize: int = 4096) -> None:
        self._reader = reads_engine(engine)
        self._generations = GenerationReader(engine)
        self._authorizer = authorizer
        self._cache: GenerationCache[str, StoredIdentity | None] = GenerationCache(maxsize)

    def resolve(self, token_user: UserContext) -> UserContext:
        """The caller's current identity; ``Unauthenticated`` (401) for a reserved or
        unknown subject, ``AccountDisabled`` (403) for a disabled account. Blocking
        (a database read): call from the thread pool."""
        return self.resolve_at(token_user)[0]

    def resolve_at(self, token_user: UserContext) -> tuple[UserContext, int]:
        """``resolve``, and the catalog generation it read: a request hands it on to
        the broker, so one request reads the generation once and is governed by one
        state of the catalog from its identity to its entry."""
        subject = token_user.subject
        if is_reserved_subject(subject):
            raise Unauthenticated("invalid token: reserved subject")
        generation = self._generations.read()
        stored = self._cache.get(generation, subject, lambda: self._load(subject, generation))
        # role assignments moved with the generation: casbin re-reads before it answers
        self._authorizer.sync(generation)
        if stored is None:
            raise Unauthenticated("unknown user: ask an administrator to provision it")
        if stored.status == UNSEALED:
            raise AccountUnsealed()
        if stored.status != ACTIVE:
            raise AccountDisabled("this account is disabled")
        return stored.context, generation

    def close(self) -> None:
        """The generation reader's connections closed (the app's shutdown)."""
        self._generations.close()

    def _load(self, subject: str, generation: int) -> StoredIdentity | None:
        # a connection opened after the generation was read: what it loads is at least
        # that new, and is tagged with it (``GenerationCache``)
        with self._reader.connect() as conn:
            return load_identity(conn, subject, generation=generation)
