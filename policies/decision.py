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
    # RFC3339 UTC "YYYY-MM-DDTHH:MM:SSZ" (see policies.inputs.rfc3339); the policy uses
    # it only to compare with grant expiry. Without it every grant counts as expired.
    now: str | None = None
    # {"rows_remaining_today": int}: the daily row quota left; None = not enforced here.
    usage: dict[str, Any] | None = None
    # {"max_rows_by_level": {"L2": 1000000}}: an administrator's caps; None = defaults.
    limits: dict[str, Any] | None = None

    def to_input(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "user": self.user.to_input(),
            "dataset": self.dataset,
            "request": self.request,
            "grants": list(self.grants),
        }
        if self.now is not None:
            body["now"] = self.now
        if self.usage is not None:
            body["usage"] = self.usage
        if self.limits is not None:
            body["limits"] = self.limits
        return body


def decision_from_output(
    output: Any, *, decision_id: str, policy_version: str | None = None
) -> Decision:
    """Turn the policy's ``decision`` object into a ``Decision``.

    Shared by every backend so they cannot drift. Anything malformed raises
    ``Unavailable`` (fail closed) instead of being read as a partial allow.
    """
    from catalog.errors import Unavailable

    try:
        fields = {
            str(name): FieldAccess(action=_field_action(spec["action"]), method=spec.get("method"))
            for name, spec in dict(output["fields"]).items()
        }
        row_filter = output.get("row_filter")
        return Decision(
            allow=output["allow"] is True,
            reasons=tuple(str(r) for r in output["reasons"]),
            fields=fields,
            row_filter=dict(row_filter) if row_filter is not None else None,
            max_rows=int(output["max_rows"]),
            requires_approval=output["requires_approval"] is True,
            policy_version=policy_version or str(output["policy_version"]),
            decision_id=decision_id,
            approval_fields=tuple(str(f) for f in output.get("approval_fields", ())),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Unavailable(f"policy engine unavailable: malformed decision ({exc!r})") from exc


def _field_action(value: Any) -> FieldAction:
    if value == "allow":
        return "allow"
    if value == "mask":
        return "mask"
    if value == "deny":
        return "deny"
    raise ValueError(f"unknown field action {value!r}")


class DecisionPoint(ABC):
    """A policy decision point. Fails closed: any engine error raises
    ``catalog.errors.Unavailable`` (never returns an allow)."""

    @abstractmethod
    def decide(self, decision_input: DecisionInput) -> Decision: ...

    @property
    @abstractmethod
    def policy_version(self) -> str: ...
