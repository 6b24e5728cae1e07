"""A caller's effective access to an entry, per field, without reading any row.

The preview *is* a query that is never run: ``preview_body`` is the query it stands
for (every field, the given purpose or the entry's first, the given case reference or a
placeholder — a query always carries one), and its decision input comes from the same
builder as the broker's (``authorize.decision_input``: grants, quota left today and the
per-level row caps included), so the catalog page and the query can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from catalog.errors import BadRequest, SluiceError
from catalog.models import Dataset
from gateway.core.seams import UsageLimiter
from gateway.enforcement.grants import approved_grant_rows
from gateway.enforcement.query.authorize import decision_input
from gateway.enforcement.query.schemas import QueryBody
from policies.authorizer import RoleAuthorizer
from policies.decision import DecisionInput, DecisionPoint, UserContext
from policies.inputs import dataset_input

# what the preview asks about when the caller names no case (policy requires one)
PREVIEW_CASE = "preview"


UNCHARGED = 1_000_000_000  # policy's own default when no usage is given


def preview_body(dataset: Dataset, *, purpose: str | None, case_ref: str | None) -> QueryBody:
    """The query a catalog page previews: all fields, under this purpose and case."""
    try:
        return QueryBody(
            purpose=purpose or next(iter(dataset.allowed_purposes or []), ""),
            case_ref=case_ref or PREVIEW_CASE,
        )
    except ValidationError:  # the same bounds as a query's body: never a 500
        raise BadRequest("purpose or case reference not accepted") from None


def preview_input(
    *, limiter: UsageLimiter, max_rows_by_level: Mapping[str, int], session: Session,
    user: UserContext, dataset: Dataset, body: QueryBody, charges_rows: bool = True,
) -> DecisionInput:  # fmt: skip
    """The decision input of ``body`` on ``dataset``, as the broker would build it.
    ``charges_rows=False`` for a release that reads no row of the source (a stored hit
    list, already charged): the day's quota is then no condition."""
    now = datetime.now(UTC)
    grant_rows = approved_grant_rows(conn=session.connection(), subject=user.subject,
                                     dataset_id=dataset.id, purpose=body.purpose,
                                     case_ref=body.case_ref)  # fmt: skip
    return decision_input(
        user=user, entry=dataset_input(dataset), body=body, grant_rows=grant_rows, now=now,
        rows_remaining_today=(int(limiter.remaining_rows(user.subject))
                              if charges_rows else UNCHARGED),
        max_rows_by_level=max_rows_by_level,
    )  # fmt: skip


def effective_access(
    *,
    authorizer: RoleAuthorizer,
    pdp: DecisionPoint,
    limiter: UsageLimiter,
    max_rows_by_level: Mapping[str, int],
    session: Session,
    user: UserContext,
    dataset: Dataset,
    purpose: str | None,
    case_ref: str | None,
) -> dict[str, Any]:
    """What ``user`` would get from a query of ``dataset`` now, per field, from the
    same casbin check and Rego decision as the broker's; no row is read and nothing is
    charged or recorded."""
    may_query = authorizer.allowed(
        subject=user.subject, domain=dataset.department, action="dataset:query"
    )
    if not may_query:
        return {"may_query": False, "reasons": ["your role may not query this department's data"]}
    body = preview_body(dataset, purpose=purpose, case_ref=case_ref)
    asked = preview_input(limiter=limiter, max_rows_by_level=max_rows_by_level, session=session,
                          user=user, dataset=dataset, body=body)  # fmt: skip
    try:
        decision = pdp.decide(asked)
    except SluiceError as exc:
        return {"may_query": False, "reasons": [exc.message]}
    return {
        "may_query": decision.allow,
        "purpose": body.purpose,
        "reasons": list(decision.reasons),
        "fields": {n: {"action": f.action, "method": f.method} for n, f in decision.fields.items()},
        "row_filter": decision.row_filter,
        "max_rows": decision.max_rows,
        "requires_approval": decision.requires_approval,
        "policy_version": decision.policy_version,
    }
