"""Request and response shapes of source registration, introspection and drafting.

Responses are built by allow-list from the ORM rows: a source shows its ``redacted``
form, never ``settings`` secrets, the ciphertext or its key id. An entry's edits and
its steward view are the catalog's (``catalog.schemas.DatasetPatch``,
``StewardDatasetOut``).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from catalog.errors import BadRequest
from catalog.models import Source
from catalog.row_seals import sealable
from catalog.source_seals import loaded_source_holds
from catalog.timestamps import UtcDatetime
from catalog.vocabulary import Level, PICategory

ID_PATTERN = r"^[a-z0-9][a-z0-9_.\-]{1,63}$"
TITLE_MAX = 300  # an entry's titles: VARCHAR(300) (a longer one was a 500 on PostgreSQL)
M = TypeVar("M", bound=BaseModel)


def checked(model: type[M], values: dict[str, Any]) -> M:
    """``values`` validated as the API validates its body, or ``BadRequest`` naming the
    problems: the services check what they are given with the API's own schema, so the
    console's forms and the CLI hold its rules too (red team 16: ids no route can name,
    names and titles longer than their columns)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())  # fmt: skip
        raise BadRequest(problems) from None


def require_id(value: str, what: str) -> None:
    """``BadRequest`` unless ``value`` follows ``ID_PATTERN`` (the console's source form,
    before its connection test; the services check their whole input with ``checked``)."""
    if not re.fullmatch(ID_PATTERN, value):
        raise BadRequest(f"the {what} id: 2 to 64 lower-case letters, digits, '.', '_' or "
                         "'-', starting with a letter or digit")  # fmt: skip


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    department: str
    kind: str
    display_name: str = Field(min_length=1, max_length=200)
    settings: dict[str, Any] = Field(default_factory=dict)
    secret: SecretStr | None = None

    _settings_sealable = field_validator("settings")(sealable)


class SourceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    settings: dict[str, Any] | None = None
    secret: SecretStr | None = None

    _settings_sealable = field_validator("settings")(sealable)


class SourceOut(BaseModel):
    id: str
    department: str
    kind: str
    display_name: str
    redacted: str
    has_secret: bool
    created_by: str
    created_at: UtcDatetime
    sealed: bool = Field(description="false: its connection settings or ownership claims "
                         "were changed behind the gateway (catalog.source_seals); "
                         "nothing is read through it")  # fmt: skip

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
            sealed=loaded_source_holds(source),
        )


class SourceDeregistered(BaseModel):
    """What ``DELETE /api/v1/sources/{id}`` did: the entries it unpublished."""

    id: str
    deregistered: bool = True
    unpublished: list[str]


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
    dataset_id: str | None = Field(
        default=None, pattern=ID_PATTERN,
        description="<department>.<name>, its prefix the source's department (else 400); "
        "default <department>.<object_name>",
    )  # fmt: skip
    title_zh: str = Field(default="", max_length=TITLE_MAX)
    title_en: str = Field(default="", max_length=TITLE_MAX)
    description_zh: str = ""
    description_en: str = ""
    allowed_purposes: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


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
