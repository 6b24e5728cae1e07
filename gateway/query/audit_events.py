"""Builds the audit events the broker writes; one place decides what a record holds."""

from __future__ import annotations

from typing import Any

from policies.decision import Decision, UserContext


def actor(user: UserContext) -> dict[str, Any]:
    return {"sub": user.subject, "dept": user.department, "roles": list(user.roles)}


def query_event(
    *,
    type_: str,
    user: UserContext,
    dataset_id: str,
    purpose: str | None,
    case_ref: str | None,
    decision: Decision | None,
    client: str | None,
    request_id: str,
    outcome: str,
    **extra: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": type_,
        "actor": actor(user),
        "resource": dataset_id,
        "purpose": purpose,
        "case_ref": case_ref,
        "client": client,
        "request_id": request_id,
        "outcome": outcome,
    }
    if decision is not None:
        event["decision"] = {
            "allow": decision.allow,
            "reasons": list(decision.reasons),
            "decision_id": decision.decision_id,
            "requires_approval": decision.requires_approval,
        }
        event["policy_version"] = decision.policy_version
        event["fields"] = {
            name: {"action": fa.action, "method": fa.method}
            for name, fa in decision.fields.items()
        }
        event["row_filter"] = decision.row_filter
    event.update(extra)
    return event
