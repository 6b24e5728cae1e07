"""ORM models of comparison models, their versions, their runs and the runs' leads.

A model's rule is never edited in place: each change is a new row of
``comparison_model_versions`` and a run names the version it used, so a hit list can
always be traced to the exact rule that produced it. The hit list itself (masked,
tokenised: what the analyst may see) is kept apart from the run's row
(``comparison_run_results``) so status polls never read it, and so it can be dropped
when it expires while the run, its counts and its leads stay on record.

None of these tables bumps the catalog generation (migration 0011): the broker never
reads them, and a run's progress updates must not invalidate every process's caches.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from catalog.comparison_seals import seal_on_write
from catalog.models import Base, utcnow


class RunStatus(StrEnum):
    """Where a run is: ``queued`` → ``running`` → ``done`` | ``failed`` | ``cancelled``."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED)


class LeadState(StrEnum):
    """What became of one hit: nobody looked yet (``open``), confirmed as an anomaly,
    a false positive, or rectified (with the date it was put right)."""

    OPEN = "open"
    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false_positive"
    RECTIFIED = "rectified"


def new_run_id() -> str:
    return f"cr_{secrets.token_hex(10)}"


class ComparisonModel(Base):
    """A shared matching rule; its content is in its versions."""

    __tablename__ = "comparison_models"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    department: Mapped[str | None] = mapped_column(String(32), nullable=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    shared_departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    shared_levels: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # the row seal (catalog.comparison_seals; 0020)
    seal: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ComparisonModelVersion(Base):
    """One version of a model's rule, immutable once written."""

    __tablename__ = "comparison_model_versions"

    model_id: Mapped[str] = mapped_column(
        ForeignKey("comparison_models.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_zh: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    entries: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # the row seal (catalog.comparison_seals; 0020)
    seal: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ComparisonRun(Base):
    """One run of one model version, by one analyst, under one purpose and case."""

    __tablename__ = "comparison_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_run_id)
    model_id: Mapped[str] = mapped_column(ForeignKey("comparison_models.id"), index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    case_ref: Mapped[str] = mapped_column(String(128))
    engine: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED.value)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    hits: Mapped[int | None] = mapped_column(Integer, nullable=True)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    sides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # a scheduled run (migration 0012): its schedule, the county it was narrowed to, the
    # schedule's previous done run, the hits new since it and that run's hits now gone
    schedule_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    region: Mapped[str | None] = mapped_column(String(12), nullable=True)
    previous_run_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    new_hits: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # {"new": [hit ids], "gone": [{"hit_id": …, "key_token": …} of the previous run]}
    disappeared: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # the lease (migration 0014): the process executing the run (host:pid:random) and
    # when it last renewed its hold; an unfinished run whose heartbeat is older than
    # ``comparison_run_lease_s`` (or NULL, and the row older than that) is failed as
    # ``interrupted`` by any replica's recovery
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ComparisonRunResult(Base):
    """A done run's hit list as Arrow IPC (masked and tokenised), until it expires."""

    __tablename__ = "comparison_run_results"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("comparison_runs.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))


class ComparisonLead(Base):
    """The state of one hit of a run; a hit without a row is ``open``."""

    __tablename__ = "comparison_leads"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("comparison_runs.id", ondelete="CASCADE"), primary_key=True
    )
    hit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    rectified_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # Compare-and-set on the last change: every UPDATE of a lead carries
    # ``WHERE updated_at = <the time this session read>``, so two changes of one lead at
    # once cannot both apply over the same previous state (StaleDataError; the route
    # answers 409). The service sets ``updated_at`` itself on every change.
    __mapper_args__ = {"version_id_col": updated_at, "version_id_generator": False}  # noqa: RUF012


# models and versions are sealed as the ORM writes them (catalog.comparison_seals; 0020)
seal_on_write(ComparisonModel)
seal_on_write(ComparisonModelVersion)
