"""Pydantic request and response models of the catalog.

Inputs validate the classification vocabulary (levels, PI categories, field types)
once, at the boundary, so the service and the policies can trust what is stored.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalog.mask_reveal import shows_more
from catalog.mask_specs import MaskSpecText
from catalog.models import Dataset
from catalog.timestamps import UtcDatetime
from catalog.vocabulary import FIELD_TYPES, Level, PICategory

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
    mask_override: MaskSpecText | None = None  # a mask spec (catalog.mask_specs)

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

    @model_validator(mode="after")
    def _mask_shows_no_more(self) -> FieldIn:
        """The override shows no more than the category's default (``mask_reveal``)."""
        if self.mask_override is not None:
            problem = shows_more(self.mask_override, self.pi_category)
            if problem is not None:
                raise ValueError(problem)
        return self


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


class FieldPatch(BaseModel):
    """A steward's correction of one field's classification (omitted: unchanged)."""

    model_config = ConfigDict(extra="forbid")

    level: Level | None = None
    pi_category: PICategory | None = None
    description: str | None = None
    mask_override: MaskSpecText | None = None  # validated on save (catalog.mask_specs)

    @model_validator(mode="after")
    def _no_null_classification(self) -> FieldPatch:
        """A field always has a level, a category and a description: a null given for
        one is bad input (400), never a write the catalog refuses after the change was
        put on record. ``mask_override`` may be null: back to the category's mask."""
        nulls = [a for a in ("level", "pi_category", "description")
                 if a in self.model_fields_set and getattr(self, a) is None]  # fmt: skip
        if nulls:
            raise ValueError(
                f"{', '.join(nulls)} cannot be null: omit it to leave it unchanged"
                " (pi_category 'none': no personal information)"
            )
        return self


class DatasetPatch(BaseModel):
    """A steward's corrections of an entry (omitted: unchanged; ``region_field`` given
    as null: no region field)."""

    model_config = ConfigDict(extra="forbid")

    # bounded as their columns are (VARCHAR(300), VARCHAR(32)): a longer value was a 500
    # on PostgreSQL after the change was on record (red team 16)
    title_zh: str | None = Field(default=None, max_length=300)
    title_en: str | None = Field(default=None, max_length=300)
    description_zh: str | None = None
    description_en: str | None = None
    level: Level | None = None
    allowed_purposes: list[str] | None = None
    tags: list[str] | None = None
    region_field: str | None = None
    update_frequency: str | None = Field(default=None, max_length=32)
    fields: dict[str, FieldPatch] = Field(default_factory=dict)


class FieldOut(BaseModel):
    """A field as analysts see it: its classification, no suggestion history."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    type: str
    level: str
    pi_category: str
    description: str
    mask_override: str | None = None


class StewardFieldOut(FieldOut):
    """A field as its stewards see it: with its position and what was suggested."""

    position: int
    suggested_level: str | None
    suggested_pi_category: str | None


class EntryOut(BaseModel):
    """What every view of an entry shows (status: a ``DatasetStatus`` value)."""

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
    # false: the entry, a field or its source was changed behind the gateway
    # (catalog.entry_seals, catalog.source_seals); the broker refuses it until its
    # sealed values are written back
    sealed: bool

    @field_validator("allowed_purposes", "tags", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        """A column written behind the gateway as something else than a list of text
        is shown empty (its entry's seal, for the purposes, refuses it): one garbled
        row made every analyst's catalog listing a 500 (red team 21)."""
        if not isinstance(value, list):
            return []
        return [v for v in value if isinstance(v, str)]


class DatasetOut(EntryOut):
    """A catalog entry as analysts see it: no source settings, no physical names."""

    updated_at: UtcDatetime
    fields: list[FieldOut]


class StewardDatasetOut(EntryOut):
    """An entry as its stewards see it (drafts too): which source object it reads and
    each field's suggested classification next to the accepted one."""

    source_id: str
    object_name: str
    fields: list[StewardFieldOut]

    @classmethod
    def of(cls, dataset: Dataset) -> StewardDatasetOut:
        """Fields in position order even right after a schema refresh appended some."""
        fields = sorted(dataset.fields, key=lambda f: f.position)
        return cls.model_validate(
            {
                **{name: getattr(dataset, name) for name in _ENTRY_ATTRIBUTES},
                "allowed_purposes": dataset.allowed_purposes,  # copied by ``_listed``
                "tags": dataset.tags,
                "fields": [StewardFieldOut.model_validate(f) for f in fields],
            }
        )


_ENTRY_ATTRIBUTES = ("source_id", "object_name", *EntryOut.model_fields)


class DepartmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name_zh: str
    name_en: str
