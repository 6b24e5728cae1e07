"""Comparison schedules: a model run again per county, daily, weekly or monthly.

A schedule belongs to the analyst who made it and runs as them: at each trigger their
identity is read fresh and narrowed to the schedule's county, and the run is requested
exactly as ``POST …/runs`` would (``request_run``: engine, version, every side's access
checked now), so a schedule never runs what its owner could not run by hand today. It
runs the model's version its owner scheduled (``scheduled_version``): the newest when
the schedule was made, or a later one its owner wrote — never another author's later
rule under its owner's name. A
trigger that is refused is on record with its reason and the schedule moves on to its
next due time. Due schedules are triggered by the gateway's own clock
(``SLUICE_COMPARISON_SCHEDULER``, ``gateway.wiring.schedule_clock``) or by
``POST /api/v1/comparison-schedules/run-due`` (the caller's own, for tests and cron).

Functions change the session; each trigger commits its own run (the runner takes a
committed row) after its events are on record, and only if it moved the schedule on
from the due time it read (compare-and-set): of concurrent triggers of one period (two
cron hosts, the gateway's clock) one queues a run, the others' events stay on record
for a run that was not made (over-recording, never a period run twice).
"""

from __future__ import annotations

import calendar
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from audit.event_types import EventType
from audit.records import Actor, comparison_run_event, comparison_schedule_event
from catalog.comparison_models import ComparisonModel, ComparisonModelVersion, ComparisonRun
from catalog.comparison_schedules import ComparisonSchedule, new_schedule_id
from catalog.comparison_seals import (
    SCHEDULES,
    comparison_key,
    require_schedule_sealed,
    row_sealed,
)
from catalog.errors import BadRequest, Conflict, NotFound, SluiceError
from catalog.timestamps import as_utc, utc_text
from gateway.core.case_refs import RequiredCaseRef
from gateway.core.services import Services
from gateway.enforcement.comparison.run_service import RunIn, request_run
from gateway.enforcement.comparison.runs import ModelRunner
from gateway.enforcement.comparison.scheduled import narrowed
from gateway.stewardship.comparison_models.service import get_visible
from gateway.stewardship.row_locks import hold_rows
from gateway.stewardship.row_trail import bind_until_commit
from policies.decision import UserContext

SYSTEM = Actor("gateway", None, ("system",))


class ScheduleIn(BaseModel):
    """``POST /api/v1/comparison-models/{id}/schedules``."""

    model_config = ConfigDict(extra="forbid")

    # ASCII digits, as region codes are everywhere else: pydantic's ``\d`` is any Unicode
    # digit, and a full-width county was stored as a schedule that reads no row (red team 55)
    region: str = Field(pattern=r"^[0-9]{6}$", description="the county (six-digit region code)")
    every: Literal["daily", "weekly", "monthly"] = "monthly"
    purpose: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00]*$")
    case_ref: RequiredCaseRef = Field(min_length=1, max_length=128, pattern=r"^[^\x00]*$")
    engine: str | None = Field(default=None, min_length=1, max_length=32)


def next_due(after: datetime, every: str) -> datetime:
    if every == "daily":
        return after + timedelta(days=1)
    if every == "weekly":
        return after + timedelta(weeks=1)
    year, month = (after.year + 1, 1) if after.month == 12 else (after.year, after.month + 1)
    day = min(after.day, calendar.monthrange(year, month)[1])
    return after.replace(year=year, month=month, day=day)


def view(schedule: ComparisonSchedule) -> dict[str, Any]:
    return {"id": schedule.id, "model": schedule.model_id, "owner": schedule.owner,
            "region": schedule.region, "every": schedule.every, "purpose": schedule.purpose,
            "case_ref": schedule.case_ref, "engine": schedule.engine,
            "next_due_at": utc_text(schedule.next_due_at), "last_run": schedule.last_run_id,
            "created_at": utc_text(schedule.created_at),
            "sealed": row_sealed(SCHEDULES, schedule)}  # fmt: skip


def create(
    *, services: Services, session: Session, runner: ModelRunner, user: UserContext,
    model: ComparisonModel, body: ScheduleIn, now: datetime,
) -> ComparisonSchedule:  # fmt: skip
    """A schedule whose first run is due now, if its owner could run it for that county
    now (region within their jurisdiction, engine known, every side allowed)."""
    county = narrowed(user, body.region)
    probe = RunIn(purpose=body.purpose, case_ref=body.case_ref, engine=body.engine)
    run = request_run(services=services, session=session, runner=runner, user=county,
                      model=model, body=probe, request_id="schedule-check")  # fmt: skip
    session.expunge(run)  # only the checks were wanted
    schedule = ComparisonSchedule(
        id=new_schedule_id(), model_id=model.id, owner=user.subject, region=body.region,
        every=body.every, purpose=body.purpose, case_ref=body.case_ref, engine=body.engine,
        next_due_at=now, last_run_id=None, created_at=now, deleted_at=None,
    )  # fmt: skip
    session.add(schedule)
    services.audit.append(comparison_schedule_event(
        type_=EventType.COMPARISON_SCHEDULE_CREATED, actor=Actor.of(user),
        schedule_id=schedule.id, model_id=model.id, purpose=body.purpose,
        case_ref=body.case_ref, details={"region": body.region, "every": body.every},
    ))  # fmt: skip
    return schedule


def listing(session: Session, model: ComparisonModel, user: UserContext,
            *, reviewer: bool) -> list[ComparisonSchedule]:  # fmt: skip
    """The caller's live schedules of the model (officers: everyone's)."""
    stmt = select(ComparisonSchedule).where(ComparisonSchedule.model_id == model.id,
                                            ComparisonSchedule.deleted_at.is_(None))  # fmt: skip
    if not reviewer:
        stmt = stmt.where(ComparisonSchedule.owner == user.subject)
    return list(session.scalars(stmt.order_by(ComparisonSchedule.created_at)))


def delete(*, services: Services, session: Session, user: UserContext, model: ComparisonModel,
           schedule_id: str, now: datetime) -> ComparisonSchedule:  # fmt: skip
    schedule = session.get(ComparisonSchedule, schedule_id)
    if schedule is None or schedule.model_id != model.id or schedule.deleted_at is not None:
        raise NotFound(f"no schedule {schedule_id!r} of model {model.id!r}")
    if schedule.owner != user.subject:
        raise NotFound(f"no schedule {schedule_id!r} of model {model.id!r}")
    schedule.deleted_at = now
    # bound removed before its event (row_trail): its row from before, written back
    # behind the gateway, never runs; bound back if the route's commit does not happen
    bind_until_commit(services.audit, session)
    services.audit.append(comparison_schedule_event(
        type_=EventType.COMPARISON_SCHEDULE_DELETED, actor=Actor.of(user),
        schedule_id=schedule.id, model_id=model.id, purpose=schedule.purpose,
        case_ref=schedule.case_ref, details={"region": schedule.region},
    ))  # fmt: skip
    return schedule


def due(session: Session, now: datetime, owner: str | None = None) -> list[str]:
    stmt = select(ComparisonSchedule.id).where(ComparisonSchedule.deleted_at.is_(None),
                                               ComparisonSchedule.next_due_at <= now)  # fmt: skip
    if owner is not None:
        stmt = stmt.where(ComparisonSchedule.owner == owner)
    return list(session.scalars(stmt.order_by(ComparisonSchedule.next_due_at)))


def _queue(services: Services, session: Session, runner: ModelRunner,
           schedule: ComparisonSchedule) -> ComparisonRun:  # fmt: skip
    require_schedule_sealed(schedule)  # written or changed behind the gateway: never run
    owner = runner.identities.resolve(UserContext(schedule.owner, None, (), "L1"))
    model = get_visible(session, schedule.model_id, owner, reviewer=False)
    try:  # stored before today's rules (a blank case reference): refused on record
        body = RunIn(purpose=schedule.purpose, case_ref=schedule.case_ref,
                     engine=schedule.engine,
                     version=scheduled_version(session, model, schedule))  # fmt: skip
    except ValidationError as exc:
        reason = "; ".join(str(e.get("msg", "")) for e in exc.errors())
        raise BadRequest(f"schedule {schedule.id} cannot run: {reason}") from None
    run = request_run(services=services, session=session, runner=runner,
                      user=narrowed(owner, schedule.region), model=model, body=body,
                      request_id=uuid.uuid4().hex)  # fmt: skip
    run.schedule_id, run.region = schedule.id, schedule.region
    services.audit.append(comparison_run_event(
        type_=EventType.COMPARISON_RUN_REQUESTED, actor=Actor.of(owner), run_id=run.id,
        purpose=run.purpose, case_ref=run.case_ref, request_id=run.request_id,
        details={"model": model.id, "model_version": run.model_version, "engine": run.engine,
                 "schedule": schedule.id, "region": schedule.region},
    ))  # fmt: skip
    return run


def scheduled_version(
    session: Session, model: ComparisonModel, schedule: ComparisonSchedule
) -> int:
    """The version a schedule runs: the newest that was there when it was made, or that
    its own owner wrote since (red team 6). A shared model's author storing a new rule
    does not change what another analyst's schedule runs under their name and case;
    they schedule again to take it."""
    made = as_utc(schedule.created_at)
    versions = session.scalars(
        select(ComparisonModelVersion).where(ComparisonModelVersion.model_id == model.id)
    )
    chosen = [v.version for v in versions
              if v.created_by == schedule.owner or as_utc(v.created_at) <= made]  # fmt: skip
    if not chosen:
        raise NotFound(f"no version of model {model.id!r} as schedule {schedule.id} was made")
    return max(chosen)


def _claim(session: Session, schedule: ComparisonSchedule, due_at: datetime,
           run: ComparisonRun | None) -> bool:  # fmt: skip
    """Move the schedule on to ``due_at`` only if it is still due when it was read (a
    compare-and-set): of two triggers of one period, one queues its run."""
    _S = ComparisonSchedule
    values: dict[str, Any] = {"next_due_at": due_at}
    if run is not None:
        values["last_run_id"] = run.id
    moved = session.execute(
        update(_S).where(_S.id == schedule.id, _S.deleted_at.is_(None),
                         _S.next_due_at == schedule.next_due_at)
        .values(**values).execution_options(synchronize_session=False)
    )  # fmt: skip
    return bool(getattr(moved, "rowcount", 0))


def trigger(*, services: Services, session: Session, runner: ModelRunner, schedule_id: str,
            now: datetime) -> str | None:  # fmt: skip
    """Queue one due schedule's run (committed, submitted); returns the run id, or None
    when it was refused (on record with the reason).

    The period is claimed before anything is on record: the schedule's write lock (held
    to the commit; across processes too: ``row_locks``), then its due time read afresh
    under it. A second trigger of the period waits, then finds it moved on (or another
    trigger still at it past ``WRITE_WAIT_S``) and records nothing: each put
    ``comparison_schedule.triggered`` and its run's ``comparison_run.requested`` on
    record before the compare-and-set below, so the loser left a run on record that
    was rolled back (red team 25). The compare-and-set stays, a second guard (on SQLite
    the lock reached across processes only since rows32)."""
    try:
        hold_rows(session, [comparison_key(SCHEDULES, schedule_id)])
    except Conflict:
        return None  # another trigger of it is under way
    schedule = session.get(ComparisonSchedule, schedule_id, populate_existing=True)
    if schedule is None or schedule.deleted_at is not None or as_utc(schedule.next_due_at) > now:
        return None  # triggered by someone else meanwhile
    due_at = as_utc(schedule.next_due_at)
    while due_at <= now:  # missed periods are not run twice
        due_at = next_due(due_at, schedule.every)
    details: dict[str, Any] = {"region": schedule.region, "next_due_at": utc_text(due_at)}
    run: ComparisonRun | None = None
    try:  # nothing is written before the events: on SQLite the trail shares the writer
        run = _queue(services, session, runner, schedule)
        details["run"] = run.id
    except SluiceError as exc:
        details["refused"] = exc.to_dict()
    services.audit.append(comparison_schedule_event(
        type_=EventType.COMPARISON_SCHEDULE_TRIGGERED, actor=SYSTEM, schedule_id=schedule.id,
        model_id=schedule.model_id, purpose=schedule.purpose, case_ref=schedule.case_ref,
        details=details,
    ))  # fmt: skip
    if not _claim(session, schedule, due_at, run):
        session.rollback()  # another trigger took this period: its run is the one
        return None
    session.commit()
    if run is not None:
        runner.submit(run.id)
    return run.id if run is not None else None


def run_due(*, services: Services, runner: ModelRunner, now: datetime | None = None,
            owner: str | None = None) -> list[str]:  # fmt: skip
    """Trigger every due schedule (of ``owner`` only, if named); the runs queued."""
    now = now or datetime.now(UTC)
    queued: list[str] = []
    with services.sessions() as session:
        ids = due(session, now, owner)
    for schedule_id in ids:
        with services.sessions() as session:
            run_id = trigger(services=services, session=session, runner=runner,
                             schedule_id=schedule_id, now=now)  # fmt: skip
        if run_id is not None:
            queued.append(run_id)
    return queued
