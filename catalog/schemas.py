"""Pydantic request and response models of the catalog.

Inputs validate the classification vocabulary (levels, PI categories, field types)
once, at the boundary, so the service and the policies can trust what is stored.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalog.vocabulary import FIELD_TYPES, Level, MaskMethod, PICategory

_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
UPDATE_FREQUENCIES = ("realtime", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly")


class FieldIn(BaseModel):
    """A column of a dataset with its classification."""

    name: str = Field(min_length=1, max_length=128)
    type: str = "string"
    level: Level = Level.L2
    pi_category: PICategory = PICategory.NONE
    description: str = ""
    mask_override: MaskMethod | None = None

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("field names are identifiers: letters, digits, underscore")
        return value

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in FIELD_TYPES:
            raise ValueError(f"type must be one of {', '.join(FIELD_TYPES)}")
        return value


class DatasetIn(BaseModel):
    """A new catalog entry (created as a draft; publishing is a separate step)."""

    id: str = Field(max_length=128, description="<department>.<object>, e.g. civil.payroll")
    department: str
    source_id: str
    object_name: str = Field(min_length=1, max_length=300)
    title_zh: str = ""
    title_en: str = ""
    description_zh: str = ""
    description_en: str = ""
    level: Level = Level.L2
    allowed_purposes: list[str] = Field(default_factory=list)
    region_field: str | None = None
    tags: list[str] = Field(default_factory=list)
    update_frequency: str = "daily"
    fields: list[FieldIn] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _dataset_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("dataset ids look like 'department.object' (lower case)")
        return value

    @field_validator("update_frequency")
    @classmethod
    def _frequency(cls, value: str) -> str:
        if value not in UPDATE_FREQUENCIES:
            raise ValueError(f"update_frequency must be one of {', '.join(UPDATE_FREQUENCIES)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DatasetIn:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("field names must be unique")
        if self.region_field is not None and self.region_field not in names:
            raise ValueError(f"region_field {self.region_field!r} is not one of the fields")
        if not self.id.startswith(f"{self.department}."):
            raise ValueError("the dataset id must start with its department code")
        top = max(Level(f.level).rank for f in self.fields)
        if Level(self.level).rank < top:
            raise ValueError("the dataset level must be at least its most sensitive field's")
        return self


class FieldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    type: str
    level: str
    pi_category: str
    description: str
    mask_override: str | None = None


class DatasetOut(BaseModel):
    """A catalog entry as analysts see it: no source settings, no physical names."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    department: str
    title_zh: str
    title_en: str
    description_zh: str
    description_en: str
    level: str
    allowed_purposes: list[str]
    region_field: str | None
    tags: list[str]
    update_frequency: str
    status: str
    schema_version: int
    updated_at: datetime
    fields: list[FieldOut]


class DepartmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name_zh: str
    name_en: str
