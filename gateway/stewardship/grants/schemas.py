"""Request and response bodies of the access-request API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
    approvals: list[dict[str, Any]]
    decided_by: str | None
    reason: str | None
    created_at: datetime
    approved_at: datetime | None
    expires_at: datetime | None
