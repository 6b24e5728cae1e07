"""The one decision API: ``DecisionPoint.decide(DecisionInput) -> Decision``, whichever
backend (embedded regopy, OPA server) answers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

from policies.reasons import Reason, render

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
class AggregateRules:
    """What an aggregate query may compute (issue 16): groups with fewer rows than
    ``min_group_size`` are suppressed; ``functions`` gives, per field of the entry, the
    functions an aggregate may apply to it (none for a denied field)."""

    min_group_size: int
    functions: dict[str, frozenset[str]]

    def allows(self, field: str, fn: str) -> bool:
        return fn in self.functions.get(field, frozenset())

    def to_dict(self) -> dict[str, Any]:
        return {"min_group_size": self.min_group_size,
                "functions": {n: sorted(f) for n, f in self.functions.items()}}  # fmt: skip


@dataclass(frozen=True)
class Decision:
    """One answer for one request: covers every field of the entry at once.

    ``reason_codes`` are what the policy said (codes with catalog-valued parameters);
    ``reasons`` are the same rendered as sentences for people (``policies.reasons``).
    """

    allow: bool
    reasons: tuple[str, ...]
    fields: dict[str, FieldAccess]
    row_filter: dict[str, Any] | None  # {"field": str, "prefixes": [str, ...]} or None
    max_rows: int
    requires_approval: bool
    policy_version: str
    decision_id: str = ""
    approval_fields: tuple[str, ...] = ()
    reason_codes: tuple[Reason, ...] = ()
    aggregates: AggregateRules | None = None  # an aggregate query's rules; None otherwise

    def reason_dicts(self) -> list[dict[str, Any]]:
        """``[{code, params}, ...]``: the machine-readable reasons (403 bodies, audit)."""
        return [r.to_dict() for r in self.reason_codes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "allow": self.allow,
            "reasons": list(self.reasons),
            "reason_codes": self.reason_dicts(),
            "fields": {n: {"action": f.action, "method": f.method} for n, f in self.fields.items()},
            "row_filter": self.row_filter,
            "max_rows": self.max_rows,
            "requires_approval": self.requires_approval,
            "approval_fields": list(self.approval_fields),
            "aggregates": self.aggregates.to_dict() if self.aggregates is not None else None,
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
    output: Any,
    *,
    decision_input: DecisionInput,
    decision_id: str,
    policy_version: str | None = None,
) -> Decision:
    """Turn the policy's raw ``decision`` object into a ``Decision``.

    Shared by every backend so they cannot drift. The output is checked against the
    strict schema of ``policies.schema`` for *this* input first; anything malformed
    raises ``Unavailable`` (fail closed, 503) instead of being read as a partial allow.
    """
    from catalog.errors import Unavailable
    from policies.schema import MalformedDecision, Vocabulary, check

    vocabulary = Vocabulary.of(decision_input.dataset, decision_input.user.jurisdiction)
    try:
        checked = check(output, vocabulary)
    except MalformedDecision as exc:
        raise Unavailable(
            f"policy engine unavailable: malformed decision ({exc})", problem="malformed_decision"
        ) from exc
    fields = {
        name: FieldAccess(action=_field_action(action), method=method)
        for name, (action, method) in checked.fields.items()
    }
    reasons = render(checked.reasons, checked.fields)
    return Decision(
        allow=checked.allow,
        reasons=reasons,
        fields=fields,
        row_filter=checked.row_filter,
        max_rows=checked.max_rows,
        requires_approval=checked.requires_approval,
        policy_version=policy_version or checked.policy_version,
        decision_id=decision_id,
        approval_fields=checked.approval_fields,
        reason_codes=checked.reasons,
        aggregates=AggregateRules(*checked.aggregates) if checked.aggregates is not None else None,
    )


def _field_action(value: str) -> FieldAction:
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
