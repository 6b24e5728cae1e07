"""Request body of ``POST /api/v1/datasets/{id}/query``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.core.case_refs import blank_if_invisible


def blank_if_none(value: str | None) -> str:
    """A purpose or case reference as policy is asked with it: a missing one is "".

    The one normalisation, applied at the edge (``QueryBody``): before it, policy saw
    "" while the trail recorded null. Anything that takes a purpose or case reference
    from elsewhere than this schema passes it through here before it is used."""
    return "" if value is None else value


Op = Literal["=", "!=", "<", "<=", ">", ">=", "in", "between", "prefix", "is_null"]


class WhereClause(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, max_length=128)
    op: Op
    value: Any = None


class OrderClause(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, max_length=128)
    desc: bool = False


AggregateFn = Literal["count", "count_distinct", "sum", "avg", "min", "max"]


class AggregateClause(BaseModel):
    """One aggregate of an aggregate query (issue 16): ``fn`` over ``field`` (no field:
    ``count`` of rows), answered under the name ``as``."""

    model_config = ConfigDict(extra="forbid")

    fn: AggregateFn
    field: str | None = Field(default=None, min_length=1, max_length=128)
    as_: str = Field(alias="as", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,62}$",
                     description="the answer's column name: a letter, then letters, "
                     "digits or _ (at most 63)")  # fmt: skip


class QueryBody(BaseModel):
    """What an analyst asks for. ``order_by`` items are field names (``-name`` for
    descending) or ``{"field", "desc"}`` objects."""

    model_config = ConfigDict(extra="forbid")

    fields: list[str] = Field(default_factory=list, max_length=500)
    where: list[WhereClause] = Field(default_factory=list, max_length=100)
    order_by: list[str | OrderClause] = Field(default_factory=list, max_length=20)
    group_by: list[str] = Field(default_factory=list, max_length=20)
    aggregates: list[AggregateClause] = Field(
        default_factory=list,
        max_length=20,
        description="with group_by: one row per group, small groups suppressed (issue 16)",
    )
    unmask: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="PI fields to see in clear; needs an approved access request",
    )
    limit: int | None = Field(default=None, ge=1)
    offset: int = Field(default=0, ge=0, le=10_000_000)
    # no NUL: the policy engine takes C strings, PostgreSQL refuses it in text.
    # null or missing is "" (``blank_if_none``): policy, grants and the trail see one value
    purpose: str = Field(default="", max_length=64, pattern=r"^[^\x00]*$")
    case_ref: str = Field(default="", max_length=128, pattern=r"^[^\x00]*$")

    @field_validator("purpose", "case_ref", mode="before")
    @classmethod
    def _blank_if_none(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("case_ref", mode="after")
    @classmethod
    def _blank_if_invisible(cls, value: str) -> str:
        return blank_if_invisible(value)  # spaces alone name no case (red team 20)

    def orders(self) -> list[OrderClause]:
        out = []
        for item in self.order_by:
            if isinstance(item, OrderClause):
                out.append(item)
            elif item.startswith("-"):
                out.append(OrderClause(field=item[1:], desc=True))
            else:
                out.append(OrderClause(field=item))
        return out
