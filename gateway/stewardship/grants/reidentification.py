"""Re-identification of named hits of a comparison run: ask, approve per department,
reject, revoke.

A hit list names people by case-keyed tokens only. To open a case on some of them an
analyst asks for their real identities, naming their own done run and the hit ids. The
request waits on every source department of the run's model version: a steward *of
that department* (their own department in the user store and ``access:approve`` there)
approves for it — two different stewards where that department's side is L4 (the entry
or its key field), as for access requests. The requester never approves, nobody
approves twice, and an administrator without a department approves for none. Once each
department has approved, those hits — and only those — are released to the requester
(``gateway.enforcement.comparison.reidentify``) until someone revokes it or the release
expires: ``release_ttl`` after its approval (``DEFAULT_RELEASE_DAYS`` unless the settings
name another, ``reidentification_release_days``). An identity released for opening a case
is needed once, when the case is opened; a release that never ends keeps names one
token away for as long as the hit list lives. After expiry the analyst asks again.

Functions change the session without committing; ``record`` appends the event first
and then commits (compare-and-set on the status, as for access requests).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from audit.event_types import EventType
from audit.records import Actor, reidentification_event
from audit.sink import AuditSink
from catalog.comparison_models import ComparisonModelVersion, ComparisonRun, RunStatus
from catalog.entry_seals import require_entry_sealed
from catalog.errors import BadRequest, Conflict, Forbidden, NotFound
from catalog.grant_seals import REIDENTIFICATIONS, require_sealed
from catalog.models import Dataset
from catalog.reidentifications import (
    ReidentificationRequest,
    new_reidentification_id,
)
from catalog.timestamps import utc_text
from gateway.enforcement.comparison.access import compile_against_catalog
from gateway.enforcement.comparison.spec import ModelSpec
from gateway.stewardship.grants.service import commit_or_conflict, hold_for_approval
from gateway.stewardship.row_trail import bound_changes
from policies.authorizer import RoleAuthorizer
from policies.decision import UserContext

MAX_HITS = 500
APPROVE = "access:approve"


def required_by_department(
    session: Session, run: ComparisonRun, *, sealed: bool = False
) -> dict[str, int]:
    """Each source department of the run's model version and the stewards it needs:
    two where its entry, or the key field the release reveals, is L4. ``sealed``: an
    entry changed behind the gateway is refused (423) rather than counted as it reads."""
    version = session.get(ComparisonModelVersion, (run.model_id, run.model_version))
    if version is None:  # never: versions are kept
        raise NotFound(f"run {run.id}'s model version is gone")
    model, datasets = compile_against_catalog(
        session, ModelSpec.model_validate(version.spec), model_id=run.model_id,
        version=run.model_version,
    )  # fmt: skip
    required: dict[str, int] = {}
    for side in model.sides:
        dataset: Dataset = datasets[side.dataset]
        if sealed:
            require_entry_sealed(session.connection(), dataset)
        levels = {f.name: f.level for f in dataset.fields}
        need = 2 if "L4" in (dataset.level, levels.get(side.key)) else 1
        required[dataset.department] = max(required.get(dataset.department, 0), need)
    return required


def create(
    *, session: Session, user: UserContext, run_id: str, hit_ids: list[int], purpose: str,
    case_ref: str, justification: str, require_kept: Callable[[ComparisonRun], None],
) -> ReidentificationRequest:  # fmt: skip
    """A pending request on the caller's own done run and hits that exist in it, while
    its hit list is kept: ``require_kept`` raises (410) for a list past its keeping, as
    every read of the list does — asked anyway, each department's steward weighed a
    request whose approval released nothing (red team 55)."""
    run = session.get(ComparisonRun, run_id)
    if run is None or run.owner != user.subject:  # another's run does not exist for you
        raise NotFound(f"no comparison run {run_id!r}")
    if run.status != RunStatus.DONE:
        raise Conflict(f"run {run.id} is {run.status}: hits are there once it is done")
    require_kept(run)
    wanted = sorted(set(hit_ids))
    if not wanted or len(wanted) > MAX_HITS:
        raise BadRequest(f"name between 1 and {MAX_HITS} hits")
    missing = [h for h in wanted if not 1 <= h <= (run.hits or 0)]
    if missing:
        raise BadRequest(f"run {run.id} has no hits {missing[:20]}", hits=missing[:20])
    if not (purpose.strip() and case_ref.strip() and justification.strip()):
        raise BadRequest("purpose, case reference and justification are required")
    req = ReidentificationRequest(
        id=new_reidentification_id(), requester=user.subject, run_id=run.id, hit_ids=wanted,
        required=required_by_department(session, run), purpose=purpose, case_ref=case_ref,
        justification=justification, status="pending", approvals=[],
        created_at=datetime.now(UTC),
    )  # fmt: skip
    session.add(req)
    return req


def get(*, session: Session, request_id: str) -> ReidentificationRequest:
    req = session.get(ReidentificationRequest, request_id)
    if req is None:
        raise NotFound(f"no access request {request_id}")
    return req


def decides_for(authorizer: RoleAuthorizer, user: UserContext,
                req: ReidentificationRequest) -> list[str]:  # fmt: skip
    """The request's departments the caller is a steward of (their own department)."""
    return [d for d in req.departments if user.department == d
            and authorizer.allowed(subject=user.subject, domain=d, action=APPROVE)]  # fmt: skip


def visible(authorizer: RoleAuthorizer, user: UserContext, req: ReidentificationRequest) -> bool:
    return req.requester == user.subject or bool(decides_for(authorizer, user, req))


def list_for(*, session: Session, authorizer: RoleAuthorizer,
             user: UserContext) -> list[ReidentificationRequest]:  # fmt: skip
    """The caller's own requests and those waiting on (or decided by) their department."""
    found = session.scalars(
        select(ReidentificationRequest).order_by(ReidentificationRequest.created_at.desc())
    )  # fmt: skip
    return [r for r in found if visible(authorizer, user, r)]


def _decider(authorizer: RoleAuthorizer, user: UserContext,
             req: ReidentificationRequest) -> list[str]:  # fmt: skip
    if user.subject == req.requester:
        raise Forbidden("separation of duties: you cannot decide on your own request")
    mine = decides_for(authorizer, user, req)
    if not mine:
        raise Forbidden(f"only stewards of {', '.join(req.departments)} decide on this request")
    if req.status != "pending":
        raise Conflict(f"access request {req.id} is {req.status}, not pending")
    return mine


def approve(*, authorizer: RoleAuthorizer, approver: UserContext, req: ReidentificationRequest,
            now: datetime, require_kept: Callable[[ComparisonRun], None],
            ) -> ReidentificationRequest:  # fmt: skip
    """One department's approval (the approver's own); approved once all have (one
    approval at a time: ``service.hold_for_approval``). Refused (410, ``require_kept``)
    once the run's hit list is past its keeping, as the asking is: approved anyway, the
    request read "approved" to the stewards, the trail and the requester while nothing
    could be released (red team 60)."""
    session = object_session(req)
    if session is None:  # never: the route loaded it
        raise RuntimeError(f"request {req.id} is not attached to a session")
    _decider(authorizer, approver, req)
    run = session.get(ComparisonRun, req.run_id)
    if run is None:  # never: runs are kept
        raise NotFound(f"request {req.id}'s run is gone")
    require_kept(run)
    hold_for_approval(session, REIDENTIFICATIONS, req)
    mine = _decider(authorizer, approver, req)  # again, on the row as it now is
    # an approval seals the row it writes: never one an insider wrote or edited
    require_sealed(session.connection(), REIDENTIFICATIONS, req)
    _required_now(session, req, run)
    if any(a["by"] == approver.subject for a in req.approvals):
        raise Forbidden("you have already approved this request; another steward must approve")
    waiting = [d for d in mine if d in req.waiting_on()]
    if not waiting:
        raise Conflict(f"department {mine[0]} has already approved request {req.id}")
    entry = {"by": approver.subject, "department": waiting[0], "at": utc_text(now)}
    req.approvals = [*req.approvals, entry]
    if not req.waiting_on():
        req.status = "approved"
        req.approved_at = now
        req.decided_by = approver.subject
    return req


def _required_now(session: Session, req: ReidentificationRequest, run: ComparisonRun) -> None:
    """Raise the stored ``required`` to what the catalog asks now (never lower it): a
    key raised to L4 after the asking (or written down behind the gateway only while it
    was asked) needs two stewards of its department at every approval, not the one it
    needed then (red team 55's left row 4, red team 59)."""
    now = required_by_department(session, run, sealed=True)  # levels a gateway wrote
    raised = {d: max(n, now.get(d, 0)) for d, n in req.required.items()}
    if raised != req.required:
        req.required = raised


def reject(*, authorizer: RoleAuthorizer, approver: UserContext, req: ReidentificationRequest,
           reason: str) -> ReidentificationRequest:  # fmt: skip
    _decider(authorizer, approver, req)
    req.status = "rejected"
    req.decided_by = approver.subject
    req.reason = reason
    return req


def revoke(*, authorizer: RoleAuthorizer, actor: UserContext, req: ReidentificationRequest,
           reason: str) -> ReidentificationRequest:  # fmt: skip
    """The requester, or a steward of any of its departments, ends the release."""
    if actor.subject != req.requester and not decides_for(authorizer, actor, req):
        raise Forbidden(f"only stewards of {', '.join(req.departments)} revoke this request")
    if req.status not in ("approved", "pending"):
        raise Conflict(f"access request {req.id} is {req.status}")
    req.status = "revoked"
    req.reason = reason
    return req


def record(
    *, audit: AuditSink, session: Session, user: UserContext, req: ReidentificationRequest,
    event_type: EventType, **extra: Any,
) -> ReidentificationRequest:  # fmt: skip
    """Audit first (fail closed), then commit (a lost compare-and-set is a 409)."""
    request_id = req.id
    with bound_changes(audit, session):  # the row's new state first (catalog.row_bindings)
        audit.append(reidentification_event(
            type_=event_type, actor=Actor.of(user), request_id=req.id, run_id=req.run_id,
            hit_ids=list(req.hit_ids), departments=req.departments, purpose=req.purpose,
            case_ref=req.case_ref,
            details={"status": req.status, "approvals": list(req.approvals),
                     "waiting_on": req.waiting_on(), **extra},
        ))  # fmt: skip
        commit_or_conflict(session, request_id)
    return req
