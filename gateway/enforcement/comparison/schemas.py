"""Request body of ``POST /api/v1/comparisons``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gateway.core.case_refs import RequiredCaseRef
from gateway.enforcement.query.schemas import WhereClause


class ComparisonSide(BaseModel):
    """One catalog entry of the comparison: what to read and which field to match on."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(min_length=1, max_length=128)
    key: str = Field(
        min_length=1, max_length=128,
        description="field to match on; compared as its hash token, never sent in clear",
    )  # fmt: skip
    fields: list[str] = Field(
        default_factory=list, max_length=100,
        description="fields to show for each match, each as policy allows it",
    )  # fmt: skip
    where: list[WhereClause] = Field(default_factory=list, max_length=100)


class ComparisonBody(BaseModel):
    """Two sides matched on their keys under one purpose and case reference: tokens are
    keyed by the case, so the two sides' tokens of the same value are equal."""

    model_config = ConfigDict(extra="forbid")

    left: ComparisonSide
    right: ComparisonSide
    purpose: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00]*$")  # no NUL
    case_ref: RequiredCaseRef = Field(min_length=1, max_length=128, pattern=r"^[^\x00]*$")
    limit: int | None = Field(default=None, ge=1, description="most matches to return")
