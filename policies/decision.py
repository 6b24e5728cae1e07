"""The one decision API: ``DecisionPoint.decide(DecisionInput) -> Decision``, whichever
backend (embedded regopy, OPA server) answers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

FieldAction = Literal["allow", "mask", "deny"]


@dataclass(frozen=True)
class UserContext:
    """Who is asking, as the validated token and the role store say."""

    subject: str
    department: str | None
    roles: tuple[str, ...]
    clearance: str
    jurisdiction: tuple[str, ...] = ()

    def to_input(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "department": self.department,
            "roles": list(self.roles),
            "clearance": self.clearance,
            "jurisdiction": list(self.jurisdiction),
        }


@dataclass(frozen=True)
class FieldAccess:
    action: FieldAction
    method: str | None = None


@dataclass(frozen=True)
class Decision:
    """One answer for one request: covers every field of the entry at once."""

    allow: bool
    reasons: tuple[str, ...]
    fields: dict[str, FieldAccess]
    row_filter: dict[str, Any] | None  # {"field": str, "prefixes": [str, ...]} or None
    max_rows: int
    requires_approval: bool
    policy_version: str
    decision_id: str = ""
    approval_fields: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "allow": self.allow,
            "reasons": list(self.reasons),
            "fields": {n: {"action": f.action, "method": f.method} for n, f in self.fields.items()},
            "row_filter": self.row_filter,
            "max_rows": self.max_rows,
            "requires_approval": self.requires_approval,
            "approval_fields": list(self.approval_fields),
            "policy_version": self.policy_version,
            "decision_id": self.decision_id,
        }


@dataclass(frozen=True)
class DecisionInput:
    """Everything the Rego policy sees. ``dataset`` and ``request`` are plain JSON-able
    dicts (see ``policies.inputs``); ``grants`` are the user's active approved grants."""

    user: UserContext
    dataset: dict[str, Any]
    request: dict[str, Any]
    grants: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def to_input(self) -> dict[str, Any]:
        return {
            "user": self.user.to_input(),
            "dataset": self.dataset,
            "request": self.request,
            "grants": list(self.grants),
        }


class DecisionPoint(ABC):
    """A policy decision point. Fails closed: any engine error raises
    ``catalog.errors.Unavailable`` (never returns an allow)."""

    @abstractmethod
    def decide(self, decision_input: DecisionInput) -> Decision: ...

    @property
    @abstractmethod
    def policy_version(self) -> str: ...
