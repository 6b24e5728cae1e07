"""Which refusals an approved access request would lift, and for which fields.

The policy says ``requires_approval`` only when nothing but approval stands in the way
(its ``pending`` fields: a masked field asked for in clear, an L4 field or entry). A
refusal also falls to a grant when every one of its reasons is about *masked* fields
used where only fields in clear may go — a filter on a masked field, sorting or
grouping on one, an aggregate its mask forbids — because a grant covering a field
releases it in clear (``field_decision`` in ``policies/rego/decision.rego``). A field
denied by clearance never counts: no grant lifts clearance, so a reason naming one, or
any other reason (purpose, case reference, role, quota), means approval would not help
and nothing is offered. The fields to ask for are those reasons' fields together with
the policy's own ``approval_fields`` (what would be pending once they are lifted).
"""

from __future__ import annotations

from policies.decision import Decision

# reasons whose fields a grant releases in clear (each carries ``fields``)
LIFTED_BY_GRANT = frozenset(
    {"filter_on_masked_field", "order_by_refused", "group_by_refused", "aggregate_refused"}
)


def _masked(decision: Decision, name: str) -> bool:
    access = decision.fields.get(name)
    return access is not None and access.action == "mask"


def approval_would_lift(decision: Decision) -> tuple[str, ...]:
    """The fields an access request should name for this refusal to be lifted; empty
    when approval would not help (or nothing was refused)."""
    if decision.allow:
        return ()
    if decision.requires_approval:
        return tuple(decision.approval_fields)
    if not decision.reason_codes:
        return ()
    wanted: set[str] = set(decision.approval_fields)
    for reason in decision.reason_codes:
        if reason.code not in LIFTED_BY_GRANT or not reason.fields:
            return ()
        if not all(_masked(decision, name) for name in reason.fields):
            return ()
        wanted.update(reason.fields)
    return tuple(sorted(wanted))
