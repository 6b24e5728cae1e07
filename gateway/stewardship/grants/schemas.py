"""Request and response bodies of the access-request API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from catalog.timestamps import UtcDatetime
from gateway.core.case_refs import RequiredCaseRef


class AccessRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(min_length=1, max_length=128)
    fields: list[str] = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=64)
    case_ref: RequiredCaseRef = Field(min_length=1, max_length=128)
    justification: str = Field(min_length=1, max_length=4000)
    days: int = Field(ge=1, le=90)


class ReidentificationIn(BaseModel):
    """``POST /api/v1/access-requests`` naming a run and hits: their real identities."""

    model_config = ConfigDict(extra="forbid")

    run: str = Field(min_length=1, max_length=40)
    hits: list[int] = Field(min_length=1, max_length=500)
    purpose: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00]*$")
    case_ref: RequiredCaseRef = Field(min_length=1, max_length=128, pattern=r"^[^\x00]*$")
    justification: str = Field(min_length=1, max_length=4000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=4000)


class ApprovalOut(BaseModel):
    """One approval of a request: who and when (stored as the text of its moment)."""

    model_config = ConfigDict(extra="allow")

    by: str
    at: UtcDatetime | None = None  # None only on a row written behind the gateway


class AccessRequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    requester: str
    dataset_id: str
    department: str
    fields: list[str]
    purpose: str
    case_ref: str
    justification: str
    days: int
    status: str
    required_approvals: int
    approvals: list[ApprovalOut]
    decided_by: str | None
    reason: str | None
    created_at: UtcDatetime
    approved_at: UtcDatetime | None
    expires_at: UtcDatetime | None
    # false: changed behind the gateway, grants nothing (catalog.grant_seals; red team 15)
    sealed: bool

    # A row written behind the gateway may hold any JSON here; it grants nothing
    # (``sealed`` false) and is listed with what can be read of it: one garbled row once
    # made the whole listing a 500 for the requester and the stewards.
    @field_validator("fields", mode="before")
    @classmethod
    def _readable_fields(cls, value: object) -> list[str]:
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    @field_validator("approvals", mode="before")
    @classmethod
    def _readable_approvals(cls, value: object) -> list[object]:
        if not isinstance(value, list):
            return []
        return [a for a in value if isinstance(a, dict) and isinstance(a.get("by"), str)]


class ReidentificationApprovalOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    by: str
    department: str
    at: UtcDatetime


class ReidentificationOut(BaseModel):
    """A re-identification request: ``kind`` tells it from an access request."""

    model_config = ConfigDict(from_attributes=True)

    kind: Literal["reidentification"] = "reidentification"
    id: str
    requester: str
    run: str = Field(validation_alias="run_id")
    hits: list[int] = Field(validation_alias="hit_ids")
    departments: list[str]
    required: dict[str, int]
    waiting_on: list[str]
    purpose: str
    case_ref: str
    justification: str
    status: str
    approvals: list[ReidentificationApprovalOut]
    decided_by: str | None
    reason: str | None
    created_at: UtcDatetime
    approved_at: UtcDatetime | None
    # false: changed behind the gateway, releases nothing (catalog.grant_seals)
    sealed: bool

    @classmethod
    def of(cls, req: Any) -> ReidentificationOut:
        return cls.model_validate({
            "id": req.id, "requester": req.requester, "run_id": req.run_id,
            "hit_ids": list(req.hit_ids), "departments": req.departments,
            "required": dict(req.required), "waiting_on": req.waiting_on(),
            "purpose": req.purpose, "case_ref": req.case_ref,
            "justification": req.justification, "status": req.status,
            "approvals": list(req.approvals), "decided_by": req.decided_by,
            "reason": req.reason, "created_at": req.created_at, "approved_at": req.approved_at,
            "sealed": req.sealed,
        })  # fmt: skip
