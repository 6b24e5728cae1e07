"""Request and response bodies of the access-request API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from catalog.timestamps import UtcDatetime


class AccessRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(min_length=1, max_length=128)
    fields: list[str] = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=64)
    case_ref: str = Field(min_length=1, max_length=128)
    justification: str = Field(min_length=1, max_length=4000)
    days: int = Field(ge=1, le=90)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=4000)


class ApprovalOut(BaseModel):
    """One approval of a request: who and when (stored as the text of its moment)."""

    model_config = ConfigDict(extra="allow")

    by: str
    at: UtcDatetime


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
