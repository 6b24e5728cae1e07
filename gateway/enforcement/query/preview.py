"""A caller's effective access to an entry, per field, without reading any row.

Asks the same policy as a query would (all fields, the given or first allowed purpose),
so the catalog page and the query can never disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from catalog.errors import SluiceError
from catalog.models import Dataset
from gateway.core.services import Services
from gateway.enforcement.grants import active_grants
from policies.decision import UserContext
from policies.inputs import build_input, dataset_input, request_input


def effective_access(
    *,
    services: Services,
    session: Session,
    user: UserContext,
    dataset: Dataset,
    purpose: str | None,
    case_ref: str | None,
) -> dict[str, Any]:
    may_query = services.authorizer.allowed(
        subject=user.subject, domain=dataset.department, action="dataset:query"
    )
    if not may_query:
        return {"may_query": False, "reasons": ["your role may not query this department's data"]}
    purpose = purpose or next(iter(dataset.allowed_purposes or []), "")
    now = datetime.now(UTC)
    decision_input = build_input(
        user=user,
        dataset=dataset_input(dataset),
        request=request_input(purpose=purpose, case_ref=case_ref or "preview"),
        grants=active_grants(conn=session.connection(), subject=user.subject,
                             dataset_id=dataset.id, now=now, purpose=purpose,
                             case_ref=case_ref),
        now=now,
    )
    try:
        decision = services.pdp.decide(decision_input)
    except SluiceError as exc:
        return {"may_query": False, "reasons": [exc.message]}
    return {
        "may_query": decision.allow,
        "purpose": purpose,
        "reasons": list(decision.reasons),
        "fields": {n: {"action": f.action, "method": f.method} for n, f in decision.fields.items()},
        "row_filter": decision.row_filter,
        "max_rows": decision.max_rows,
        "requires_approval": decision.requires_approval,
        "policy_version": decision.policy_version,
    }
