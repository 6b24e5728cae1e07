"""Request and response shapes of source registration and entry editing.

Responses are built by allow-list from the ORM rows: a source shows its ``redacted``
form, never ``settings`` secrets, the ciphertext or its key id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from catalog.models import Dataset, Source
from catalog.vocabulary import Level, MaskMethod, PICategory

ID_PATTERN = r"^[a-z0-9][a-z0-9_.\-]{1,63}$"


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    department: str
    kind: str
    display_name: str = Field(min_length=1, max_length=200)
    settings: dict[str, Any] = Field(default_factory=dict)
    secret: SecretStr | None = None


class SourceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    settings: dict[str, Any] | None = None
    secret: SecretStr | None = None


class SourceOut(BaseModel):
    id: str
    department: str
    kind: str
    display_name: str
    redacted: str
    has_secret: bool
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, source: Source) -> SourceOut:
        return cls(
            id=source.id,
            department=source.department,
            kind=source.kind,
            display_name=source.display_name,
            redacted=source.redacted,
            has_secret=source.secret_ciphertext is not None,
            created_by=source.created_by,
            created_at=source.created_at,
        )


class SuggestionOut(BaseModel):
    pi_category: PICategory
    level: Level
    confidence: float
    evidence: list[str]


class ColumnProposal(BaseModel):
    name: str
    type: str
    suggestion: SuggestionOut


class ObjectProposal(BaseModel):
    name: str
    kind: str
    columns: list[ColumnProposal]


class IntrospectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    objects: list[str] | None = None


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_id: str
    object_name: str = Field(min_length=1, max_length=300)
    dataset_id: str | None = Field(default=None, pattern=ID_PATTERN)
    title_zh: str = ""
    title_en: str = ""
    description_zh: str = ""
    description_en: str = ""
    allowed_purposes: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


class FieldPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Level | None = None
    pi_category: PICategory | None = None
    description: str | None = None
    mask_override: MaskMethod | None = None


class DatasetPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title_zh: str | None = None
    title_en: str | None = None
    description_zh: str | None = None
    description_en: str | None = None
    level: Level | None = None
    allowed_purposes: list[str] | None = None
    tags: list[str] | None = None
    region_field: str | None = None
    update_frequency: str | None = None
    fields: dict[str, FieldPatch] = Field(default_factory=dict)


class FieldOut(BaseModel):
    name: str
    position: int
    type: str
    level: str
    pi_category: str
    description: str
    mask_override: str | None
    suggested_level: str | None
    suggested_pi_category: str | None


class DatasetOut(BaseModel):
    id: str
    department: str
    source_id: str
    object_name: str
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
    fields: list[FieldOut]

    @classmethod
    def of(cls, dataset: Dataset) -> DatasetOut:
        fields = [
            FieldOut(
                name=f.name,
                position=f.position,
                type=f.type,
                level=f.level,
                pi_category=f.pi_category,
                description=f.description,
                mask_override=f.mask_override,
                suggested_level=f.suggested_level,
                suggested_pi_category=f.suggested_pi_category,
            )
            for f in sorted(dataset.fields, key=lambda f: f.position)
        ]
        return cls(
            id=dataset.id,
            department=dataset.department,
            source_id=dataset.source_id,
            object_name=dataset.object_name,
            title_zh=dataset.title_zh,
            title_en=dataset.title_en,
            description_zh=dataset.description_zh,
            description_en=dataset.description_en,
            level=dataset.level,
            allowed_purposes=list(dataset.allowed_purposes or []),
            region_field=dataset.region_field,
            tags=list(dataset.tags or []),
            update_frequency=dataset.update_frequency,
            status=dataset.status,
            schema_version=dataset.schema_version,
            fields=fields,
        )


class Retyped(BaseModel):
    name: str
    old: str
    new: str


class DriftReport(BaseModel):
    dataset_id: str
    added: list[str]
    removed: list[str]
    retyped: list[Retyped]
    schema_version: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.retyped)
