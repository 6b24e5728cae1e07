"""``RoleAuthorizer``: who may call which operation, as the gateway sees it.

The gateway asks two kinds of question of the role store — *may this subject do this
action in this department* (``check`` raises, ``allowed`` answers for listings) — and
administers assignments (``assign``, ``assign_all``, ``unassign``, ``roles_of``).
Declaring them as a Protocol keeps every caller typed against the promises, not the
casbin enforcer behind them (``policies.rbac.Authorizer`` is the implementation).

The data decision — what fields and rows a request may see — is the other policy
seam: ``policies.decision.DecisionPoint``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class RoleAuthorizer(Protocol):
    """Role-based access with domains (domain = department); deny by default."""

    def check(self, *, subject: str, domain: str, action: str) -> None:
        """Raise ``catalog.errors.Forbidden`` unless the subject may; never returns a
        verdict a caller could ignore."""
        ...

    def allowed(self, *, subject: str, domain: str, action: str) -> bool:
        """For listings and pages only; enforcement calls ``check``."""
        ...

    def sync(self, generation: int) -> None:
        """The caller read catalog generation ``generation``: re-read assignments now
        if it moved, so a revoked role governs the very next request."""
        ...

    def assign(self, *, subject: str, role: str, domain: str) -> None: ...

    def assign_all(self, assignments: Sequence[tuple[str, str, str]]) -> int:
        """``assign`` for each (subject, role, domain), in one write; how many were added."""
        ...

    def unassign(self, *, subject: str, role: str, domain: str) -> None: ...

    def roles_of(self, subject: str) -> list[tuple[str, str]]:
        """``[(role, domain), ...]`` held by ``subject``, sorted."""
        ...
