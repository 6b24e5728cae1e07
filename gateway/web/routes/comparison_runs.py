"""``/api/v1/comparison-runs``: a run's status, its hit list, cancelling it, its leads.

The owner sees and changes a run; officers (``compare:review``) see it read-only;
anyone else gets a 404. Reading the hit list and every change are on the audit trail
before the answer or the commit.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pac
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from audit.event_types import EventType
from audit.records import Actor, comparison_run_event, reidentification_event
from audit.records import Delivery as Sent
from catalog.comparison_models import ComparisonRun
from catalog.errors import Conflict, Forbidden
from catalog.reidentifications import release_ttl
from gateway.enforcement.comparison import reidentify, run_service
from gateway.enforcement.comparison.run_service import LeadIn
from gateway.enforcement.comparison.runs import HIT_ID
from gateway.enforcement.query.formats import FORMATS, choose_format, cut_text, make_encoder
from gateway.web.current_user import audited_user, current_user
from gateway.web.deps import count_call, get_services, get_session
from gateway.web.routes.comparison_models import is_reviewer, runner
from gateway.web.routes.streaming import TRUNCATED_HEADER
from policies.decision import UserContext

router = APIRouter(prefix="/api/v1/comparison-runs", tags=["comparison runs"])
RunId = Path(min_length=1, max_length=40)
HitId = Path(ge=1, le=2**31 - 1)


def _event(
    request: Request, user: UserContext, run: ComparisonRun, type_: EventType,
    details: dict[str, Any], sent: Sent | None = None,
) -> None:  # fmt: skip
    count_call(request, user.subject)  # the console's run page has no other door
    get_services(request).audit.append(comparison_run_event(
        type_=type_, actor=Actor.of(user), run_id=run.id, purpose=run.purpose,
        case_ref=run.case_ref, client=request.client.host if request.client else None,
        details={"model": run.model_id, "model_version": run.model_version, "owner": run.owner,
                 **details},
        delivery=sent or Sent(),
    ))  # fmt: skip


@router.get("")
def list_runs(
    request: Request, user: UserContext = Depends(current_user),
    session: Session = Depends(get_session),
) -> list[dict[str, Any]]:  # fmt: skip
    """The caller's own runs, newest first."""
    ttl = run_service.keeping(get_services(request))
    return [run_service.run_view(session, r, ttl=ttl)
            for r in run_service.list_runs(session, user)]  # fmt: skip


@router.get("/{run_id}")
def get_run(
    request: Request, run_id: str = RunId, user: UserContext = Depends(current_user),
    session: Session = Depends(get_session),
) -> dict[str, Any]:  # fmt: skip
    """Status (queued, running, done, failed, cancelled), progress, hits and the count
    of hits per lead state."""
    run = run_service.visible_run(session, run_id, user, reviewer=is_reviewer(request, user))
    # a done run's view (its columns, cut, sides and changes) is the run its completion
    # names, or refused as tampered (409), as its hits are
    run_service.require_view_as_recorded(get_services(request), run)
    return run_service.run_view(session, run, ttl=run_service.keeping(get_services(request)))


@router.get("/{run_id}/hits", responses={410: {"description": "the hit list expired"}})
def get_hits(
    request: Request, run_id: str = RunId,
    format: str | None = Query(default=None, description=", ".join(FORMATS)),
    bom: bool = Query(default=False, description="CSV: start with a UTF-8 BOM for Excel"),
    user: UserContext = Depends(audited_user), session: Session = Depends(get_session),
    reidentified: bool = Query(default=False, description="only the hits whose "
                               "re-identification was approved, their keys in clear"),
) -> Response:  # fmt: skip
    """The stored hits in any query format, each with its lead state; on record (rows
    and SHA-256 of the bytes) before it is sent."""
    fmt = choose_format(format, request.headers.get("accept"))
    reviewer = is_reviewer(request, user)
    run = run_service.visible_run(session, run_id, user, reviewer=reviewer)
    # the stored run vouched for first: a run changed behind the gateway (handed to
    # someone else, its hits swapped) is refused as tampered (409, logged), whatever
    # the reader's rights would have said of the forged row
    table = run_service.hit_table(session, run, services=get_services(request))
    run_service.check_release(services=get_services(request), session=session, run=run,
                              user=user, reviewer=reviewer)  # fmt: skip
    if reidentified is True:  # called as a function (the console), the default is a Query
        return released_hits(request, session, run, user, table, fmt, bom)
    encoder = make_encoder(fmt, bom=bom, cut=lambda: run.truncated)  # stored: known
    header = {"run": run.id, "model": run.model_id, "model_version": run.model_version,
              "columns": run.columns, "sides": run.sides}  # fmt: skip
    parts = [encoder.begin(table.schema, header)]
    parts += [encoder.batch(b) for b in table.to_batches(max_chunksize=32_768)]
    parts.append(encoder.end({"truncated": run.truncated, "row_count": table.num_rows}))
    data = b"".join(parts)
    _event(request, user, run, EventType.COMPARISON_HITS_READ, {"format": fmt},
           Sent(rows=table.num_rows, result_sha256=hashlib.sha256(data).hexdigest()))  # fmt: skip
    return Response(data, media_type=FORMATS[fmt], headers={
        "X-Sluice-Run-Id": run.id, TRUNCATED_HEADER: cut_text(run.truncated)})  # fmt: skip


def released_hits(
    request: Request, session: Session, run: ComparisonRun, user: UserContext, hits: pa.Table,
    fmt: str, bom: bool,
) -> Response:  # fmt: skip
    """The approved hits of ``run`` with their keys in clear, to the analyst who asked
    only (``comparison.reidentify``); each release on record with its hit ids before
    it is sent."""
    if run.owner != user.subject:
        raise Forbidden("identities are released only to the analyst whose request was approved")
    ttl = release_ttl(get_services(request).settings)
    hit_ids, requests = reidentify.approved(session, run, user, ttl=ttl)
    if not hit_ids:
        reidentify.refuse_if_expired(session, run, user, ttl=ttl)  # says why: ask again
        raise Forbidden(f"no approved re-identification of hits of run {run.id}")
    release_id = f"ri-{uuid.uuid4().hex}"
    job = runner(request)
    table = reidentify.release(broker=job.broker, session=session, run=run, user=user, hits=hits,
                               hit_ids=hit_ids, release_id=release_id, requests=requests,
                               max_rows=job.max_side_rows)  # fmt: skip
    table, requests, cases = _still_released(request, run, user, table, ttl=ttl)
    encoder = make_encoder(fmt, bom=bom)
    columns = [{"name": n} for n in table.column_names]
    header = {"run": run.id, "reidentification": requests, "columns": columns}
    parts = [encoder.begin(table.schema, header)]
    parts += [encoder.batch(b) for b in table.to_batches(max_chunksize=32_768)]
    parts.append(encoder.end({"truncated": False, "row_count": table.num_rows}))
    data = b"".join(parts)
    digest = hashlib.sha256(data).hexdigest()
    for (purpose, case_ref), (hit_ids, asked) in cases.items():
        # one record per approved case, its hits only: an officer following the case the
        # stewards approved finds the release of the ID numbers (red team 45), the run's
        # case in its details
        mine = table.filter(
            pac.is_in(table.column(HIT_ID), value_set=pa.array(hit_ids, pa.int64()))
        )
        if mine.num_rows == 0:  # approved while the sides were read: none of its hits sent
            continue
        get_services(request).audit.append(reidentification_event(
            type_=EventType.REIDENTIFICATION_RELEASED, actor=Actor.of(user),
            request_id=release_id, run_id=run.id, hit_ids=mine.column(HIT_ID).to_pylist(),
            departments=[], purpose=purpose, case_ref=case_ref, details={
                "requests": asked, "format": fmt,
                "run_case": {"purpose": run.purpose, "case_ref": run.case_ref},
                "subject_tokens": reidentify.released_subjects(job.broker, session, run, mine)},
            delivery=Sent(rows=mine.num_rows, result_sha256=digest),
        ))  # fmt: skip
    return Response(data, media_type=FORMATS[fmt], headers={
        "X-Sluice-Run-Id": run.id, TRUNCATED_HEADER: cut_text(False)})  # fmt: skip


def _still_released(
    request: Request, run: ComparisonRun, user: UserContext, table: pa.Table, *,
    ttl: timedelta,
) -> tuple[pa.Table, list[str], dict[tuple[str, str], tuple[list[int], list[str]]]]:  # fmt: skip
    """The release's sides were read whole (seconds on a large entry), all the while an
    officer may suspend the analyst or revoke the approvals: before any identity leaves,
    the account (``AccountDisabled``) and the approvals are read again, and only the
    hits still approved stay (red team 8), with the cases that approved them
    (``reidentify.approved_by_case``), read in the same session."""
    services = get_services(request)
    now = request.app.state.identities.resolve(UserContext(user.subject, None, (), "L1"))
    with services.sessions() as fresh:
        run_service.check_release(services=services, session=fresh, run=run, user=now,
                                  reviewer=False)  # fmt: skip
        cases = reidentify.approved_by_case(fresh, run, now, ttl=ttl)
    hit_ids = sorted({h for hits, _asked in cases.values() for h in hits})
    requests = sorted({r for _hits, asked in cases.values() for r in asked})
    kept = table.filter(pac.is_in(table.column(HIT_ID), value_set=pa.array(hit_ids, pa.int64())))
    if kept.num_rows == 0:
        raise Forbidden(f"no approved re-identification of hits of run {run.id}")
    return kept, requests, cases


@router.get("/{run_id}/disappeared")
def get_disappeared(
    request: Request, run_id: str = RunId, user: UserContext = Depends(audited_user),
    session: Session = Depends(get_session),
) -> dict[str, Any]:  # fmt: skip
    """A scheduled run's changes since its schedule's previous run: the hit ids that are
    new, and the previous run's hits (id, token) that disappeared: part of the hit list,
    released under the same checks as ``…/hits`` and on record as a read of it."""
    reviewer = is_reviewer(request, user)
    run = run_service.visible_run(session, run_id, user, reviewer=reviewer)
    # vouched for as the hits are: the changes are the run's completion's, or 409; and
    # kept no longer than the hits (410)
    run_service.require_view_as_recorded(get_services(request), run, unrecorded_ok=False)
    run_service.require_kept(get_services(request), run)
    run_service.check_release(services=get_services(request), session=session, run=run,
                              user=user, reviewer=reviewer)  # fmt: skip
    changes = run.disappeared or {}
    new, gone = changes.get("new", []), changes.get("gone", [])
    # the gone hits' tokens name people: a read of the hit list, on record before it is sent
    _event(request, user, run, EventType.COMPARISON_HITS_READ, {"format": "disappeared"},
           Sent(rows=len(new) + len(gone)))  # fmt: skip
    return {"run": run.id, "schedule": run.schedule_id, "previous_run": run.previous_run_id,
            "new": new, "disappeared": gone}  # fmt: skip


@router.post("/{run_id}/cancel", status_code=202)
def cancel_run(
    request: Request, run_id: str = RunId, user: UserContext = Depends(audited_user),
    session: Session = Depends(get_session),
) -> dict[str, Any]:  # fmt: skip
    """Stop a queued or running run (its owner only); what it started ends on record."""
    run = run_service.owned_run(session, run_id, user, reviewer=is_reviewer(request, user))
    run_service.check_cancellable(run)
    _event(request, user, run, EventType.COMPARISON_RUN_CANCELLED, {"status_before": run.status})
    status = run_service.cancel(session, run)
    runner(request).cancel(run.id)
    return {"id": run.id, "status": status, "cancel_requested": True}


@router.patch("/{run_id}/hits/{hit_id}")
def update_lead(
    body: LeadIn, request: Request, run_id: str = RunId, hit_id: int = HitId,
    user: UserContext = Depends(audited_user), session: Session = Depends(get_session),
) -> dict[str, Any]:  # fmt: skip
    """Mark a hit confirmed, a false positive, or rectified (with the date); the run's
    owner only; every change on record."""
    run = run_service.owned_run(session, run_id, user, reviewer=is_reviewer(request, user))
    lead, before = run_service.update_lead(session=session, run=run, hit_id=hit_id, body=body,
                                           user=user)  # fmt: skip
    rectified = lead.rectified_on.isoformat() if lead.rectified_on else None
    _event(request, user, run, EventType.COMPARISON_LEAD_UPDATED,
           {"hit_id": hit_id, "state": lead.state, "previous_state": before, "note": lead.note,
            "rectified_on": rectified})  # fmt: skip
    try:  # a compare-and-set on the state read (ComparisonLead's version column)
        session.commit()
    except (StaleDataError, IntegrityError):  # changed (or first set) by another request
        session.rollback()
        raise Conflict(
            f"hit {hit_id} of run {run_id} was changed by another request meanwhile; reload it"
        ) from None
    return {"run": run.id, "hit_id": hit_id, "state": lead.state, "note": lead.note,
            "rectified_on": rectified, "updated_by": lead.updated_by,
            "leads": run_service.lead_counts(session, run)}  # fmt: skip
