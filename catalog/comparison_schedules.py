"""ORM model of a comparison schedule: one model run again and again (daily, weekly,
monthly) for one county, by its owner, under one purpose and case.

One case per schedule on purpose: a person's token is the same across the runs of one
case, so each run can say which hits are new since the schedule's previous run and
which of that run's hits disappeared, without any raw identity.
A deleted schedule keeps its row (``deleted_at``): its runs still name it.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from catalog.comparison_seals import seal_on_write
from catalog.models import Base, utcnow

EVERY = ("daily", "weekly", "monthly")


def new_schedule_id() -> str:
    return f"cs_{secrets.token_hex(8)}"


class ComparisonSchedule(Base):
    __tablename__ = "comparison_schedules"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_schedule_id)
    model_id: Mapped[str] = mapped_column(ForeignKey("comparison_models.id"), index=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    region: Mapped[str] = mapped_column(String(12))
    every: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(64))
    case_ref: Mapped[str] = mapped_column(String(128))
    engine: Mapped[str | None] = mapped_column(String(32), nullable=True)
    next_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_run_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the row seal (catalog.comparison_seals; 0020): not over next_due_at and last_run_id,
    # which the trigger moves with a Core write
    seal: Mapped[str | None] = mapped_column(String(64), nullable=True)


# sealed as the ORM writes it (catalog.comparison_seals; 0020)
seal_on_write(ComparisonSchedule)
