"""Request and response bodies of ``/api/v1/comparison-models``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from catalog.timestamps import UtcDatetime
from gateway.enforcement.comparison.spec import ModelSpec

Level = Literal["province", "city", "county"]
MODEL_ID = r"^[a-z][a-z0-9_.-]{2,63}$"


class Names(BaseModel):
    """A text in Chinese and in English (the console shows zh-CN first)."""

    model_config = ConfigDict(extra="forbid")

    zh: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")
    en: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")


class Descriptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zh: str = Field(default="", max_length=4000, pattern=r"^[^\x00]*$")
    en: str = Field(default="", max_length=4000, pattern=r"^[^\x00]*$")


class Sharing(BaseModel):
    """Who may see and run a model besides its owner: departments (by code) and
    administrative levels (a county-level analyst's jurisdiction is a six-digit code, a
    city's four digits, a province's two or every region)."""

    model_config = ConfigDict(extra="forbid")

    departments: list[str] = Field(default_factory=list, max_length=50)
    levels: list[Level] = Field(default_factory=list, max_length=3)


class ModelIn(ModelSpec):
    """A model as its author writes it: names, descriptions, sharing and the rule."""

    id: str | None = Field(default=None, pattern=MODEL_ID,
                           description="chosen by the author, or generated")  # fmt: skip
    name: Names
    description: Descriptions = Field(default_factory=Descriptions)
    shared_with: Sharing = Field(default_factory=Sharing)

    def spec(self) -> ModelSpec:
        return ModelSpec.model_validate(
            self.model_dump(include={"sides", "joins", "conditions", "output"})
        )


class ModelSummary(BaseModel):
    id: str
    name: dict[str, str]
    version: int
    entries: list[str]
    owner: str
    shared_with: dict[str, list[str]]
    updated_at: UtcDatetime
    sealed: bool = Field(
        description="false: the model or this version was changed behind "
        "the gateway (catalog.comparison_seals); it runs nothing"
    )


class ModelOut(ModelSummary):
    description: dict[str, str]
    versions: list[int]
    spec: dict[str, Any]
    created_by: str
    created_at: UtcDatetime
