"""ORM model of a re-identification request: an analyst asks for the real identities
behind named hits of one of their comparison runs.

Kept apart from ``access_requests`` on purpose: an approved access request is a grant
the policy reads for a whole entry's fields, while an approved re-identification
releases the keys of a few named hits of one run to one analyst, read again through
the broker at each release. No generation trigger: the broker's caches never read it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, ForeignKey, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from catalog.grant_seals import REIDENTIFICATIONS, loaded_row_holds, seal_grant_row
from catalog.models import Base, utcnow

PREFIX = "ri_"


def new_reidentification_id() -> str:
    return f"{PREFIX}{secrets.token_hex(8)}"


class ReidentificationRequest(Base):
    __tablename__ = "reidentification_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_reidentification_id)
    requester: Mapped[str] = mapped_column(String(128), index=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("comparison_runs.id"), index=True)
    hit_ids: Mapped[list[int]] = mapped_column(JSON)
    # every source department of the run's model version, and how many stewards of
    # each must approve (two where the department's side is L4)
    required: Mapped[dict[str, int]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(String(64))
    case_ref: Mapped[str] = mapped_column(String(128))
    justification: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    approvals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # HMAC under the deployment's row-seal key over what the request releases
    # (catalog.grant_seals; 0018): a row written behind the gateway releases nothing
    seal: Mapped[str | None] = mapped_column(String(64), nullable=True)

    # compare-and-set on the status, as for access requests: a decision that read
    # "pending" cannot overwrite a revocation written since (StaleDataError → 409)
    __mapper_args__ = {"version_id_col": status, "version_id_generator": False}  # noqa: RUF012

    @property
    def sealed(self) -> bool:
        """Whether a gateway wrote the row as it is (false: it grants nothing)."""
        return loaded_row_holds(REIDENTIFICATIONS, self)

    @property
    def departments(self) -> list[str]:
        return sorted(self.required)

    def approvals_of(self, department: str) -> list[str]:
        return [a["by"] for a in self.approvals if a.get("department") == department]

    def waiting_on(self) -> list[str]:
        """Departments still short of their approvals."""
        return [d for d, n in sorted(self.required.items()) if len(self.approvals_of(d)) < n]


@event.listens_for(ReidentificationRequest, "before_insert")
def _seal_new(_mapper: Any, connection: Connection, target: ReidentificationRequest) -> None:
    _seal(connection, target, update=False)


@event.listens_for(ReidentificationRequest, "before_update")
def _seal_changed(_mapper: Any, connection: Connection, target: ReidentificationRequest) -> None:
    _seal(connection, target, update=True)


def _seal(connection: Connection, target: ReidentificationRequest, *, update: bool) -> None:
    if target.id is None:
        target.id = new_reidentification_id()
    if target.status is None:
        target.status = "pending"
    if target.approvals is None:
        target.approvals = []
    seal_grant_row(connection, REIDENTIFICATIONS, target, update=update)


# how long an approved release lasts; the settings may name another
# (``reidentification_release_days``, 1 to 365)
DEFAULT_RELEASE_DAYS = 7
MAX_RELEASE_DAYS = 365


def release_ttl(settings: object | None = None) -> timedelta:
    """How long an approval releases its hits: the settings' value if they have one
    (bounded to 1…365 days), else ``DEFAULT_RELEASE_DAYS``."""
    days = getattr(settings, "reidentification_release_days", None) or DEFAULT_RELEASE_DAYS
    return timedelta(days=min(max(int(days), 1), MAX_RELEASE_DAYS))


def expires_at(req: ReidentificationRequest, ttl: timedelta) -> datetime | None:
    """When an approved request stops releasing (None until it is approved)."""
    if req.approved_at is None:
        return None
    approved = req.approved_at
    if approved.tzinfo is None:  # SQLite hands back naive UTC
        approved = approved.replace(tzinfo=UTC)
    return approved + ttl


def expired(req: ReidentificationRequest, now: datetime, ttl: timedelta) -> bool:
    """Whether an approved request's release is over (at its expiry, not after)."""
    end = expires_at(req, ttl)
    return req.status == "approved" and end is not None and now >= end
