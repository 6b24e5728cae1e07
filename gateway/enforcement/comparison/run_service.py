"""Runs as their owner (and officers, read-only) see them: asking for one, its status,
its hit list in any query format, cancelling it, and following its hits up as leads.

Who sees a run: its owner, and anyone whose role may review comparison runs (security
officers: ``compare:review``), read-only. Anyone else is told it does not exist (404),
so run ids cannot be probed. Only the owner cancels a run or changes a lead.

Functions change the session without committing; the route appends the audit event
first and then commits (a change is never made off the record).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import structlog
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from audit.genuine import genuine_seqs
from audit.log import AuditLog
from audit.search import EventFilter, list_events
from catalog.comparison_models import (
    ComparisonLead,
    ComparisonModel,
    ComparisonModelVersion,
    ComparisonRun,
    ComparisonRunResult,
    LeadState,
    RunStatus,
    new_run_id,
)
from catalog.comparison_seals import require_model_sealed
from catalog.errors import (
    Conflict,
    DatasetFrozen,
    Forbidden,
    NotFound,
    SluiceError,
    Unprocessable,
)
from catalog.models import Dataset
from gateway.core.case_refs import RequiredCaseRef
from gateway.core.services import Services
from gateway.enforcement.comparison.access import (
    check_access,
    check_as_stored,
    compile_against,
    compile_against_catalog,
    refuse_frozen_objects,
)
from gateway.enforcement.comparison.model_run import HIT_ID
from gateway.enforcement.comparison.recorded_view import shown_as_recorded
from gateway.enforcement.comparison.run_store import past_keeping, read_ipc
from gateway.enforcement.comparison.scheduled import (
    change_view,
    check_matched_on,
    check_within,
    new_hit_ids,
    read_under,
)
from gateway.enforcement.comparison.spec import ModelSpec
from policies.decision import UserContext

if TYPE_CHECKING:  # the runner compares a schedule's runs through ``stored_as_recorded``
    from gateway.enforcement.comparison.runs import ModelRunner

NOTE_MAX = 2000


log = structlog.get_logger("sluice.comparison")


class RunExpired(SluiceError):
    """The run's hit list is past ``SLUICE_COMPARISON_RUN_TTL_DAYS`` and was dropped
    (its counts and leads stay); run the model again."""

    code = "expired"
    http_status = 410


class HitsTampered(Conflict):
    """The stored hit list is not the one the run's completion on the trail names."""

    code = "hits_tampered"


COMPLETION_PAGE = 8  # completions of one run: one, unless forged ones lie above it
RECORD_WAIT_S = 2.0  # a run is marked done just before its completion reaches the trail


def _recorded_completion(services: Services, run_id: str) -> dict[str, Any] | None:
    """The run's ``comparison.completed`` on the trail (None: not there)."""
    trail = services.audit
    if not isinstance(trail, AuditLog):  # a stand-in trail vouches for nothing
        return None
    deadline = time.monotonic() + RECORD_WAIT_S
    filters = EventFilter(resource=f"comparison_run:{run_id}", type="comparison.completed")
    while True:
        page = list_events(store=trail.store, filters=filters, limit=COMPLETION_PAGE)
        # only one a gateway wrote at its seq: the chain is public arithmetic, so an
        # event rewritten behind the gateway as a completion naming a doctored list's
        # SHA-256 vouched for it (red team 18)
        genuine = genuine_seqs(trail.store, (e["seq"] for e in page["items"]))
        for event in page["items"]:
            # and what its body says, not only its columns: another run's completion
            # indexed as this one's vouched for that run's list (red team 47)
            if event["seq"] in genuine and filters.said_by_body(event):
                return dict(event)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


class RunIn(BaseModel):
    """``POST /api/v1/comparison-models/{id}/runs``."""

    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00]*$")
    case_ref: RequiredCaseRef = Field(min_length=1, max_length=128, pattern=r"^[^\x00]*$")
    engine: str | None = Field(default=None, min_length=1, max_length=32)
    version: int | None = Field(default=None, ge=1, description="default: the newest")


class LeadIn(BaseModel):
    """``PATCH /api/v1/comparison-runs/{id}/hits/{hit_id}``."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["confirmed", "false_positive", "rectified"]
    note: str = Field(default="", max_length=NOTE_MAX, pattern=r"^[^\x00]*$")
    rectified_on: date | None = Field(default=None, description="required when rectified")

    @model_validator(mode="after")
    def _date_with_rectified(self) -> LeadIn:
        if (self.state == "rectified") != (self.rectified_on is not None):
            raise ValueError("rectified_on is given exactly when the state is rectified")
        return self


def request_run(
    *, services: Services, session: Session, runner: ModelRunner, user: UserContext,
    model: ComparisonModel, body: RunIn, request_id: str,
) -> ComparisonRun:  # fmt: skip
    """A queued run, after the checks a run would fail on (422, 404, 423, 403)."""
    runner.broker.subjects.case_key(body.case_ref)  # a reserved case name: 400 now
    engine = body.engine or runner.default_engine
    if engine not in runner.engines:
        known = ", ".join(sorted(runner.engines))
        raise Unprocessable(f"unknown engine {engine!r}; one of {known}")
    number = body.version or model.current_version
    version = session.get(ComparisonModelVersion, (model.id, number))
    if version is None:
        raise NotFound(f"comparison model {model.id!r} has no version {number}")
    require_model_sealed(model, version)  # a rule rewritten behind the gateway: 423
    compiled, datasets = compile_against_catalog(
        session, ModelSpec.model_validate(version.spec), model_id=model.id, version=number
    )
    check_access(services=services, session=session, user=user, model=compiled,
                 datasets=datasets, purpose=body.purpose, case_ref=body.case_ref)  # fmt: skip
    run = ComparisonRun(
        id=new_run_id(), model_id=model.id, model_version=number, owner=user.subject,
        purpose=body.purpose, case_ref=body.case_ref, engine=engine,
        status=RunStatus.QUEUED.value, progress=0.0, truncated=False, cancel_requested=False,
        columns=[], sides={}, request_id=request_id, created_at=datetime.now(UTC),
    )  # fmt: skip
    session.add(run)
    return run


def visible_run(
    session: Session, run_id: str, user: UserContext, *, reviewer: bool
) -> ComparisonRun:
    run = session.get(ComparisonRun, run_id)
    if run is None or not (reviewer or run.owner == user.subject):
        raise NotFound(f"no comparison run {run_id!r}")
    return run


def owned_run(session: Session, run_id: str, user: UserContext, *, reviewer: bool) -> ComparisonRun:
    """A run its owner may change; a reviewer sees it but may not (403)."""
    run = visible_run(session, run_id, user, reviewer=reviewer)
    if run.owner != user.subject:
        raise Forbidden("a run is changed only by its owner")
    return run


def lead_counts(session: Session, run: ComparisonRun) -> dict[str, int]:
    rows = session.execute(
        select(ComparisonLead.state, func.count()).where(ComparisonLead.run_id == run.id)
        .group_by(ComparisonLead.state)
    ).all()  # fmt: skip
    counts = {s.value: 0 for s in LeadState}
    for state, n in rows:
        counts[str(state)] = int(n)
    counts[LeadState.OPEN.value] = max((run.hits or 0) - sum(counts.values()), 0)
    return counts


def run_view(session: Session, run: ComparisonRun, *, ttl: timedelta) -> dict[str, Any]:
    """``GET /api/v1/comparison-runs/{id}``; ``ttl``: the keeping set now (``keeping``)."""
    stored = session.scalar(
        select(func.count()).select_from(ComparisonRunResult)
        .where(ComparisonRunResult.run_id == run.id)
    )  # fmt: skip
    return {
        "id": run.id, "model": run.model_id, "model_version": run.model_version,
        "owner": run.owner, "purpose": run.purpose, "case_ref": run.case_ref,
        "engine": run.engine, "status": run.status, "progress": round(run.progress, 3),
        "hits": run.hits, "truncated": run.truncated, "error": run.error,
        "cancel_requested": run.cancel_requested, "columns": run.columns, "sides": run.sides,
        "leads": lead_counts(session, run) if run.status == RunStatus.DONE else None,
        "created_at": run.created_at, "started_at": run.started_at,
        "finished_at": run.finished_at, "expires_at": run.expires_at,
        "expired": run.status == RunStatus.DONE and (not stored or past_keeping(run, ttl)),
        **change_view(run),
    }  # fmt: skip


def list_runs(session: Session, user: UserContext) -> list[ComparisonRun]:
    """The caller's own runs, newest first."""
    return list(session.scalars(
        select(ComparisonRun).where(ComparisonRun.owner == user.subject)
        .order_by(ComparisonRun.created_at.desc()).limit(200)
    ))  # fmt: skip


def check_release(
    *, services: Services, session: Session, run: ComparisonRun, user: UserContext,
    reviewer: bool,
) -> None:  # fmt: skip
    """Whether the stored hits may be handed out now. A hit list is data of its entries,
    released again at every read, so each read follows the entries and the reader as
    they are now, not as they were when the run finished: an entry an officer froze
    refuses it (423) to everyone but reviewers (the officers investigating); for its
    owner, the model's version is checked again exactly as a new run would be (role,
    clearance, grants, jurisdiction, purpose: 403), the day's quota aside — the hits
    were charged when they were stored —, no column may be clearer than that decision
    releases it now (``check_as_stored``: a revoked grant no longer unmasks), and every
    region the run read must still be within the owner's jurisdiction (403: rows
    already read are not filtered again by a jurisdiction narrowed since,
    ``scheduled.check_within``). An entry since withdrawn
    (unpublished, its source deregistered) leaves the stored result readable, as documented for
    ``DELETE /api/v1/sources/{id}``, under the same checks made against the entry as it
    stands; a frozen one never does."""
    version = session.get(ComparisonModelVersion, (run.model_id, run.model_version))
    ids = list(version.entries) if version is not None else []
    found = {d.id: d for d in session.scalars(select(Dataset).where(Dataset.id.in_(ids)))}
    if version is None or len(found) != len(set(ids)):  # never: versions are kept
        raise NotFound(f"run {run.id}'s model version is gone")
    if reviewer and run.owner != user.subject:
        return
    model = session.get(ComparisonModel, run.model_id)
    require_model_sealed(model, version)  # the rule the checks below compile
    check_within(user, run)
    for dataset in found.values():
        if dataset.frozen_at is not None:
            raise DatasetFrozen(f"dataset {dataset.id!r} is frozen by a security officer")
    refuse_frozen_objects(session, found.values(), services=services)
    # the entries as they stand, a withdrawn one included: it leaves the result readable,
    # to a reader who may still read it (red team 16: returning early here waived the
    # owner's role, clearance, grants and the clearer-than-now check)
    compiled = compile_against(ModelSpec.model_validate(version.spec), found,
                               model_id=run.model_id, version=run.model_version)  # fmt: skip
    decisions = check_access(services=services, session=session, user=user, model=compiled,
                             datasets=found, purpose=run.purpose, case_ref=run.case_ref,
                             charges_rows=False)  # fmt: skip
    check_as_stored(run.columns or [], decisions)
    check_matched_on(run, decisions)


def _as_recorded(run: ComparisonRun, data: bytes, event: dict[str, Any]) -> bool:
    """The stored bytes, whose run it is and what for, as the completion names them."""
    digest = hashlib.sha256(data).hexdigest()
    return hmac.compare_digest(digest, str(event.get("result_sha256") or "")) and (
        _row_as_recorded(run, event)
    )


def _row_as_recorded(run: ComparisonRun, event: dict[str, Any]) -> bool:
    """The run's row — whose run it is and what for, how its hits were read, its columns
    and a scheduled run's changes (``recorded_view``) — as the completion names it."""
    details = event.get("details") or {}
    actor = event.get("actor") or {}
    recorded = (actor.get("sub"), details.get("model"), details.get("model_version"),
                event.get("purpose"), event.get("case_ref"))  # fmt: skip
    stored = (run.owner, run.model_id, run.model_version, run.purpose, run.case_ref)
    return (stored == recorded and _reads_as_recorded(run, details)
            and shown_as_recorded(run, details))  # fmt: skip


def require_view_as_recorded(
    services: Services, run: ComparisonRun, *, unrecorded_ok: bool = True
) -> None:
    """``HitsTampered`` for a done run whose row is not the one its completion names
    (its view shows the columns, the cut, the sides and the changes). A done run whose
    completion is not on the trail is shown when ``unrecorded_ok`` (its view: its hits
    are refused, ``hit_table``), refused otherwise (its changes name people)."""
    if run.status != RunStatus.DONE:
        return
    recorded = _recorded_completion(services, run.id)
    if recorded is None and not unrecorded_ok:
        raise HitsTampered(f"run {run.id}'s completion is not on the audit trail: it "
                           "cannot be vouched for; run the model again")  # fmt: skip
    if recorded is not None and not _row_as_recorded(run, recorded):
        log.error("comparison_run_row_tampered", run=run.id)
        raise HitsTampered(f"run {run.id} is not the run its completion on the audit trail "
                           "names (its row was changed behind the gateway)")  # fmt: skip


def _reads_as_recorded(run: ComparisonRun, details: dict[str, Any]) -> bool:
    """Whether the row says what the completion says of how the hits were read: cut at
    the row cap or not (the ``Sluice-Truncated`` an analyst's file is judged whole by),
    each side's decision and the jurisdiction it was read under (``check_within``'s
    regions, a scheduled run's county too). Red team 22: ``UPDATE comparison_runs SET
    truncated = false`` passed a cut hit list off as whole, and ``sides`` (or ``region``)
    rewritten to a county the reader still holds served her the hits of every county."""
    sides = details.get("sides")
    recorded = sorted({p for side in (sides.values() if isinstance(sides, dict) else [])
                       for p in (side.get("jurisdiction", [""]) if isinstance(side, dict)
                                 else [""])} or {""})  # fmt: skip
    return (
        bool(details.get("truncated")) == bool(run.truncated)
        and (run.sides or {}) == (sides or {})
        and read_under(run) == recorded
    )


def stored_as_recorded(session: Session, run: ComparisonRun, *, services: Services) -> bytes:
    """A done run's stored hit list, once the run is the run its completion names.

    The stored bytes must be those the run's completion on the audit trail names (its
    ``result_sha256``), and the run's owner, model version, purpose and case those it
    records, as its cut, sides, columns and changes: the catalog is writable behind the
    gateway, the trail is not without detection, so a hit list dropped, added to or
    swapped there — or a run handed to someone else, or shown otherwise — is refused
    (``hits_tampered``), never served as the run's; so is one whose completion never
    reached the trail."""
    if run.status != RunStatus.DONE:
        raise Conflict(f"run {run.id} is {run.status}: hits are there once it is done")
    require_kept(services, run)
    result = session.get(ComparisonRunResult, run.id)
    if result is None:
        raise RunExpired(f"run {run.id}'s hit list expired; run the model again")
    data = bytes(result.data)
    recorded = _recorded_completion(services, run.id)
    if recorded is None:
        raise HitsTampered(f"run {run.id}'s completion is not on the audit trail: its "
                           "stored hits cannot be vouched for; run the model again")  # fmt: skip
    if not _as_recorded(run, data, recorded):
        log.error("comparison_hits_tampered", run=run.id)
        raise HitsTampered(f"run {run.id} is not the run its completion on the audit trail "
                           "names (its hits, owner, model, purpose, case, columns or "
                           "changes were changed behind the gateway)")  # fmt: skip
    return data


def keeping(services: Services) -> timedelta:
    """How long a done run's hit list is kept now (``SLUICE_COMPARISON_RUN_TTL_DAYS``)."""
    return timedelta(days=services.settings.comparison_run_ttl_days)


def require_kept(services: Services, run: ComparisonRun) -> None:
    """``RunExpired`` (410) for a done run past its hit list's keeping
    (``SLUICE_COMPARISON_RUN_TTL_DAYS``, as set now: ``past_keeping``), the list dropped
    there and then: the lists
    were dropped by nothing, and served (hits, changes, releases) for ever (red team
    55); ``RunStore.purge_expired`` now drops them as runs finish."""
    if run.status != RunStatus.DONE or not past_keeping(run, keeping(services)):
        return
    with services.engine.begin() as conn:
        conn.execute(delete(ComparisonRunResult).where(ComparisonRunResult.run_id == run.id))
    raise RunExpired(f"run {run.id}'s hit list expired; run the model again")


def hit_table(session: Session, run: ComparisonRun, *, services: Services) -> pa.Table:
    """The stored hits (``stored_as_recorded``) with each one's lead state, note and
    rectification date."""
    table = read_ipc(stored_as_recorded(session, run, services=services))
    leads = {lead.hit_id: lead for lead in session.scalars(
        select(ComparisonLead).where(ComparisonLead.run_id == run.id))}  # fmt: skip
    ids = table.column(HIT_ID).to_pylist()
    found = [leads.get(i) for i in ids]
    new = new_hit_ids(run)
    if new is not None:  # a scheduled run flags the hits its previous run did not have
        table = table.append_column("new", pa.array([i in new for i in ids], pa.bool_()))
    return (
        table.append_column("state", pa.array([lead.state if lead else LeadState.OPEN.value
                                               for lead in found], pa.string()))
        .append_column("note", pa.array([lead.note if lead else None for lead in found],
                                        pa.string()))
        .append_column("rectified_on", pa.array([lead.rectified_on if lead else None
                                                 for lead in found], pa.date32()))
    )  # fmt: skip


def update_lead(
    *, session: Session, run: ComparisonRun, hit_id: int, body: LeadIn, user: UserContext
) -> tuple[ComparisonLead, str]:
    """Set one hit's state; returns the lead and the state it had."""
    if run.status != RunStatus.DONE:
        raise Conflict(f"run {run.id} is {run.status}: leads follow a done run")
    if not 1 <= hit_id <= (run.hits or 0):
        raise NotFound(f"run {run.id} has no hit {hit_id}")
    lead = session.get(ComparisonLead, (run.id, hit_id))
    before = lead.state if lead is not None else LeadState.OPEN.value
    if lead is None:
        lead = ComparisonLead(run_id=run.id, hit_id=hit_id)
        session.add(lead)
    lead.state = body.state
    lead.note = body.note
    lead.rectified_on = body.rectified_on
    lead.updated_by = user.subject
    lead.updated_at = datetime.now(UTC)
    return lead, before


def check_cancellable(run: ComparisonRun) -> None:
    if RunStatus(run.status).finished:
        raise Conflict(f"run {run.id} is already {run.status}")


def cancel(session: Session, run: ComparisonRun) -> str:
    """Ask a queued or running run to stop; returns the status it has now. A queued run
    is cancelled at once (compare-and-set against the worker taking it); a running one
    stops at its next step. The ask itself is a compare-and-set on the run being
    unfinished, and the worker stores its hits only if no cancel was asked
    (``RunStore.done``): whichever commits first decides the one final state, and a
    cancel that lost to the completion is a 409. Call after the event is on record:
    this takes the write lock (on SQLite the trail shares it)."""
    check_cancellable(run)
    _R = ComparisonRun
    unfinished = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
    asked = session.execute(
        update(_R).where(_R.id == run.id, _R.status.in_(unfinished))
        .values(cancel_requested=True)
    )  # fmt: skip
    if not getattr(asked, "rowcount", 0):
        session.rollback()
        session.refresh(run)
        raise Conflict(f"run {run.id} is already {run.status}")
    session.execute(
        update(_R).where(_R.id == run.id, _R.status == RunStatus.QUEUED.value)
        .values(status=RunStatus.CANCELLED.value, finished_at=datetime.now(UTC))
    )  # fmt: skip
    session.commit()
    session.refresh(run)
    return run.status
