"""The query's records, built from its typed context with ``audit.records``.

``audit.records`` knows no policy engine and no gateway: this module turns the broker's
``QueryContext`` and ``Decision`` into its ``query_event``, so a refusal, a start and
every end of one query are built by one function from one context (never from a
re-spread list of arguments that could disagree). Rule-specific extras go into
``details``: the resource's department (the "many departments" alert), the client's own
request id, the columns requested and delivered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.event_types import EventType, Outcome
from audit.events import Family, family_from
from audit.records import (
    Actor,
    AggregateRecord,
    AuditEvent,
    DecisionRecord,
    FieldRecord,
    query_details,
    query_event,
)
from audit.records import Delivery as Sent
from gateway.enforcement.query.aggregate import function_text
from gateway.enforcement.query.context import QueryContext
from policies.decision import Decision, UserContext


def actor(user: UserContext) -> dict[str, Any]:
    """The ``actor`` of a hand-built event (the routes that do not build theirs with
    ``audit.records`` yet)."""
    return Actor.of(user).wire()


def row_filter_text(row_filter: Mapping[str, Any] | None) -> str | None:
    """A readable, stable form: ``region_code starts with 430121|430122``."""
    if not row_filter:
        return None
    prefixes = row_filter.get("prefixes") or []
    shown = "|".join(p if p else "(any)" for p in prefixes) or "(nothing)"
    return f"{row_filter.get('field')} starts with {shown}"


def decision_record(decision: Decision) -> DecisionRecord:
    """The part of a decision the trail keeps (``requires_approval`` only if it did)."""
    return DecisionRecord(
        allow=decision.allow,
        reasons=tuple(decision.reasons),
        decision_id=decision.decision_id,
        policy_version=decision.policy_version,
        fields={n: FieldRecord(fa.action, fa.method) for n, fa in decision.fields.items()},
        row_filter=row_filter_text(decision.row_filter),
        approval_fields=tuple(decision.approval_fields) if decision.requires_approval else None,
    )


def query_record(
    ctx: QueryContext,
    type_: EventType,
    outcome: Outcome,
    *,
    decision: Decision | None = None,
    sent: Sent | None = None,
    details: Mapping[str, object] | None = None,
    aggregate: Mapping[str, int] | None = None,
) -> AuditEvent:
    """One record of the query ``ctx``: its denial, its start or one of its ends; an
    aggregate query's names its grouping and functions, and ``aggregate`` adds what is
    known by then (threshold; groups and suppressed at its end)."""
    entry = ctx.entry
    return query_event(
        type_=type_,
        actor=Actor.of(ctx.user),
        dataset_id=entry.id,
        department=entry.department,
        level=entry.level,
        source_id=entry.source_id,
        purpose=ctx.body.purpose,
        case_ref=ctx.body.case_ref,
        decision=decision_record(decision) if decision is not None else None,
        client=ctx.origin.client,
        request_id=ctx.origin.request_id,
        outcome=outcome,
        delivery=sent if sent is not None else Sent(),
        details=_own_details(ctx, details),
        aggregate=_aggregate_record(ctx, aggregate),
    )


def query_family(ctx: QueryContext, decision: Decision) -> Family:
    """What every record of the query ``ctx`` under ``decision`` shares: the ``Family``
    that ``family_of`` finds in its ``query_record`` (the same checks, the same parts),
    built from the typed context without that whole record (issue 17)."""
    user, body, origin = ctx.user, ctx.body, ctx.origin
    return family_from(
        actor={"sub": user.subject, "dept": user.department, "roles": list(user.roles)},
        resource=f"dataset:{ctx.entry.id}", purpose=body.purpose, case_ref=body.case_ref,
        decision={"allow": decision.allow, "reasons": list(decision.reasons),
                  "decision_id": decision.decision_id},
        policy_version=decision.policy_version,
        fields={n: {"action": fa.action, "method": fa.method}
                for n, fa in decision.fields.items()},
        row_filter=row_filter_text(decision.row_filter), client=origin.client,
        request_id=origin.request_id,
    )  # fmt: skip


def end_details(
    ctx: QueryContext,
    decision: Decision,
    details: Mapping[str, object],
    aggregate: Mapping[str, int] | None,
) -> dict[str, object]:
    """The ``details`` ``query_record`` gives a record of ``ctx`` under ``decision``: a
    record built from its start's ``audit.events.Family`` carries these."""
    entry = ctx.entry
    approval = tuple(decision.approval_fields) if decision.requires_approval else None
    return query_details(department=entry.department, level=entry.level,
                         source_id=entry.source_id, approval_fields=approval,
                         aggregate=_aggregate_record(ctx, aggregate),
                         details=_own_details(ctx, details))  # fmt: skip


def _own_details(ctx: QueryContext, details: Mapping[str, object] | None) -> dict[str, object]:
    extra = dict(details or {})
    if ctx.origin.client_request_id is not None:  # the client's own id, beside ours
        extra["client_request_id"] = ctx.origin.client_request_id
    return extra


def _aggregate_record(
    ctx: QueryContext, counts: Mapping[str, int] | None
) -> AggregateRecord | None:
    body = ctx.body
    if not body.aggregates:
        return None
    functions = tuple(function_text(a.fn, a.field) for a in body.aggregates)
    return AggregateRecord(group_by=tuple(body.group_by), functions=functions,
                           **dict(counts or {}))  # fmt: skip
