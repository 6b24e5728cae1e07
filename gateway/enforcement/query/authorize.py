"""The policy's side of a query: the one decision input, and what a decision releases.

``decision_input`` is the only place a query's ``DecisionInput`` is assembled: the
broker (queries and each side of a comparison) and the catalog page's preview
(``gateway.enforcement.query.preview``) all call it, so the page and the query cannot
disagree about what policy was asked. Everything here is pure — the caller reads the
grants, the clock and the quota and hands them in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catalog.errors import Forbidden
from gateway.enforcement.grants import next_expiry, unexpired_grants
from gateway.enforcement.query.approvals import approval_would_lift
from gateway.enforcement.query.schemas import QueryBody
from policies.decision import Decision, DecisionInput, UserContext
from policies.inputs import build_input, request_input

HOW_TO_ASK = (
    "POST /api/v1/access-requests with dataset, fields, purpose, case_ref, justification and days"
)


def policy_request(body: QueryBody) -> dict[str, Any]:
    """The request as the policy sees it: shapes, never raw filter values, nor an
    aggregate's alias (what an aggregate query sorts on by alias is no field)."""
    aliases = {a.as_ for a in body.aggregates}
    return request_input(
        purpose=body.purpose,
        case_ref=body.case_ref,
        fields=body.fields,
        filters=[{"field": w.field, "op": w.op, "value": w.value} for w in body.where],
        order_by=[o.field for o in body.orders() if o.field not in aliases],
        group_by=body.group_by,
        unmask=body.unmask,
        aggregates=[{"fn": a.fn, "field": a.field} for a in body.aggregates],
    )


def decision_input(
    *,
    user: UserContext,
    entry: Mapping[str, Any],
    body: QueryBody,
    grant_rows: Sequence[Any],
    now: datetime,
    rows_remaining_today: int,
    max_rows_by_level: Mapping[str, int],
) -> DecisionInput:
    """What policy is asked for ``body`` on ``entry`` (its ``policy_input``):
    ``grant_rows`` are the approved access requests for this purpose and case, whatever
    their expiry (``now`` decides which still hold)."""
    return build_input(
        user=user,
        dataset=entry,
        request=policy_request(body),
        grants=unexpired_grants(tuple(grant_rows), now),
        now=now,
        rows_remaining_today=rows_remaining_today,
        max_rows_by_level=max_rows_by_level or None,
    )


@dataclass(frozen=True)
class Standing:
    """What a decision read beside the catalog, which a stream in flight must watch
    besides the catalog's generation (``Broker.check_still_allowed``): the policy that
    decided — a new one is loaded without a write to the catalog — and the clock, up to
    the first expiry of a grant it counted — an expiry writes nothing either. While the
    generation stood nothing was decided again, so a lapsed grant and a withdrawn policy
    left a download in flight to its last row (red team 65)."""

    policy_version: str
    until: datetime | None  # the first expiry of a grant the decision counted

    @classmethod
    def of(cls, decision: Decision, grant_rows: Sequence[Any], now: datetime) -> Standing:
        """What ``decision``, taken at ``now`` over ``grant_rows``, stands on."""
        return cls(decision.policy_version, next_expiry(tuple(grant_rows), now))

    def holds(self, policy_version: str, now: datetime) -> bool:
        """Whether a decision taken again with the catalog unchanged would read the same."""
        return policy_version == self.policy_version and (self.until is None or now < self.until)


def action(decision: Decision, name: str) -> str:
    """A field's action; a field the decision does not name is denied."""
    access = decision.fields.get(name)
    return access.action if access is not None else "deny"


def method(decision: Decision, name: str) -> str | None:
    access = decision.fields.get(name)
    return access.method if access is not None else None


def released(decision: Decision, wanted: Sequence[str]) -> list[str]:
    """Of the columns wanted, those the decision releases (in clear or masked), in the
    order asked: the deny-dropped list."""
    return [n for n in wanted if action(decision, n) in ("allow", "mask")]


def refusal(decision: Decision, extra_reason: str | None = None) -> Forbidden:
    """The 403 of a refused decision: its reasons and codes, and how to ask for access
    when an approval would lift it."""
    reasons = [*decision.reasons, *([extra_reason] if extra_reason else [])]
    details: dict[str, Any] = {"reasons": reasons, "reason_codes": decision.reason_dicts(),
                               "decision_id": decision.decision_id}  # fmt: skip
    if decision.requires_approval:
        details["requires_approval"] = True
    lifted_by = approval_would_lift(decision)
    if lifted_by:  # also a masked field filtered, sorted, grouped or aggregated on
        details["approval_fields"] = list(lifted_by)
        details["how_to_ask"] = HOW_TO_ASK
    return Forbidden("; ".join(reasons) or "refused by policy", **details)
