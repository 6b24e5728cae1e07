"""ORM model of an access request; an approved, unexpired request is a grant."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from catalog.grant_seals import ACCESS_REQUESTS, loaded_row_holds, seal_grant_row
from catalog.models import Base, utcnow


def new_request_id() -> str:
    return f"ar_{secrets.token_hex(8)}"


class AccessRequest(Base):
    __tablename__ = "access_requests"

    # generated here, not by the database, so the audit event naming the request can be
    # written before the row is (SQLite shares one writer between catalog and audit)
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_request_id)
    requester: Mapped[str] = mapped_column(String(128), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    department: Mapped[str] = mapped_column(String(32))
    fields: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(String(64))
    case_ref: Mapped[str] = mapped_column(String(128))
    justification: Mapped[str] = mapped_column(Text)
    days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    required_approvals: Mapped[int] = mapped_column(Integer, default=1)
    approvals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # HMAC under the deployment's row-seal key over what the request grants
    # (catalog.grant_seals; 0018): a row written behind the gateway grants nothing
    seal: Mapped[str | None] = mapped_column(String(64), nullable=True)

    # Compare-and-set on the status: every UPDATE of a request carries
    # ``WHERE status = <the status this session read>``, so a decision that read
    # "pending" cannot overwrite a withdrawal, rejection or revocation written since
    # (StaleDataError; the route answers 409). The service sets the new status itself.
    __mapper_args__ = {"version_id_col": status, "version_id_generator": False}  # noqa: RUF012

    @property
    def sealed(self) -> bool:
        """Whether a gateway wrote the row as it is (false: it grants nothing)."""
        return loaded_row_holds(ACCESS_REQUESTS, self)


@event.listens_for(AccessRequest, "before_insert")
def _seal_new(_mapper: Any, connection: Connection, target: AccessRequest) -> None:
    _seal(connection, target, update=False)


@event.listens_for(AccessRequest, "before_update")
def _seal_changed(_mapper: Any, connection: Connection, target: AccessRequest) -> None:
    _seal(connection, target, update=True)


def _seal(connection: Connection, target: AccessRequest, *, update: bool) -> None:
    if target.id is None:
        target.id = new_request_id()
    if target.status is None:
        target.status = "pending"
    if target.required_approvals is None:
        target.required_approvals = 1
    if target.approvals is None:
        target.approvals = []
    seal_grant_row(connection, ACCESS_REQUESTS, target, update=update)
