"""Builds the audit events the broker writes; one place decides what a record holds.

The audit store accepts an allow-list of top-level keys (DESIGN.md); anything
rule-specific (truncation, masks, errors, the resource's department for the
"many departments" alert, subject tokens) goes into ``details``.
"""

from __future__ import annotations

from typing import Any

from policies.decision import Decision, UserContext


def actor(user: UserContext) -> dict[str, Any]:
    return {"sub": user.subject, "dept": user.department, "roles": list(user.roles)}


def row_filter_text(row_filter: dict[str, Any] | None) -> str | None:
    """A readable, stable form: ``region_code starts with 430121|430122``."""
    if not row_filter:
        return None
    prefixes = row_filter.get("prefixes") or []
    shown = "|".join(p if p else "(any)" for p in prefixes) or "(nothing)"
    return f"{row_filter.get('field')} starts with {shown}"


def query_event(
    *,
    type_: str,
    user: UserContext,
    dataset_id: str,
    department: str,
    level: str | None = None,
    source_id: str | None = None,
    purpose: str | None,
    case_ref: str | None,
    decision: Decision | None,
    client: str | None,
    request_id: str,
    outcome: str,
    details: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": type_,
        "actor": actor(user),
        "resource": f"dataset:{dataset_id}",
        "purpose": purpose,
        "case_ref": case_ref,
        "client": client,
        "request_id": request_id,
        "outcome": outcome,
        "details": {
            "resource_dept": department,
            "level": level,
            "source_id": source_id,
            **(details or {}),
        },
    }
    if decision is not None:
        event["decision"] = {
            "allow": decision.allow,
            "reasons": list(decision.reasons),
            "decision_id": decision.decision_id,
        }
        event["policy_version"] = decision.policy_version
        event["fields"] = {
            name: {"action": fa.action, "method": fa.method}
            for name, fa in decision.fields.items()
        }
        event["row_filter"] = row_filter_text(decision.row_filter)
        if decision.requires_approval:
            event["details"]["requires_approval"] = list(decision.approval_fields)
    event.update(extra)
    return event
