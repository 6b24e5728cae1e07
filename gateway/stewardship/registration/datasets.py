"""Catalog entries from a steward's side: draft from a source object, classify, publish,
and follow the source's schema (drift).

``schema_version`` counts changes to the entry's fields (columns added, removed or
retyped, or a field's classification changed), so anything cached per version — a
policy decision, a compiled plan — is invalidated. A removed column is deleted from the
entry at once: the broker only ever names fields the entry has, so queries cannot
reach it any more. Like every service function these never commit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.orm import Session

from adapters.base import ObjectInfo
from catalog.errors import BadRequest, Conflict, NotFound
from catalog.models import Dataset, Field, Source
from catalog.vocabulary import Level
from gateway.core.services import Services
from gateway.enforcement.sources.connect import open_source_adapter
from gateway.stewardship.registration.access import emit, require_steward
from gateway.stewardship.registration.schemas import (
    ColumnProposal,
    DatasetPatch,
    DriftReport,
    Retyped,
)
from gateway.stewardship.registration.service import columns_of, load_source, scrubbed
from policies.decision import UserContext


def _inspect_object(
    *, services: Services, source: Source, object_name: str
) -> tuple[ObjectInfo, list[ColumnProposal]]:
    """The object's current columns and a proposal for each (one bounded sample)."""
    adapter = open_source_adapter(services=services, source=source)
    with scrubbed(None):
        try:
            found = {o.name: o for o in adapter.list_objects()}
            if object_name not in found:
                raise NotFound(f"source {source.id} has no object {object_name!r}")
            obj = found[object_name]
            return obj, columns_of(adapter, obj, services)
        finally:
            adapter.close()


def _max_level(levels: Sequence[str], floor: str = Level.L2) -> str:
    return max([floor, *levels], key=lambda value: Level(value).rank)


def default_dataset_id(source_id: str, object_name: str) -> str:
    return re.sub(r"[^a-z0-9_.\-]+", "_", f"{source_id}.{object_name}".lower())[:128]


def load_dataset(session: Session, dataset_id: str) -> Dataset:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"no dataset {dataset_id!r}")
    return dataset


def create_draft(
    *,
    session: Session,
    services: Services,
    user: UserContext,
    source_id: str,
    object_name: str,
    dataset_id: str | None = None,
    title_zh: str = "",
    title_en: str = "",
    description_zh: str = "",
    description_en: str = "",
    allowed_purposes: Sequence[str] = (),
    tags: Sequence[str] = (),
) -> Dataset:
    """A draft entry for one source object; each field starts at its suggested level
    and category, and the suggestion is kept in ``suggested_*`` for the record."""
    source = load_source(session, source_id)
    require_steward(
        services=services, user=user, department=source.department, action="dataset:edit"
    )
    dataset_id = dataset_id or default_dataset_id(source_id, object_name)
    if session.get(Dataset, dataset_id) is not None:
        raise Conflict(f"a dataset {dataset_id!r} already exists")
    _obj, columns = _inspect_object(services=services, source=source, object_name=object_name)
    fields = [_new_field(column, position) for position, column in enumerate(columns)]
    dataset = Dataset(
        id=dataset_id,
        department=source.department,
        source_id=source.id,
        object_name=object_name,
        title_zh=title_zh,
        title_en=title_en,
        description_zh=description_zh,
        description_en=description_en,
        level=_max_level([f.level for f in fields]),
        allowed_purposes=list(allowed_purposes),
        tags=list(tags),
        status="draft",
        schema_version=1,
        fields=fields,
    )
    _emit(services, user, dataset, {"change": "draft_created", "fields": len(fields)})
    session.add(dataset)
    session.flush()
    return dataset


def _new_field(column: ColumnProposal, position: int) -> Field:
    suggestion = column.suggestion
    return Field(
        name=column.name,
        position=position,
        type=column.type,
        level=suggestion.level.value,
        pi_category=suggestion.pi_category.value,
        description="",
        suggested_level=suggestion.level.value,
        suggested_pi_category=suggestion.pi_category.value,
    )


def _emit(
    services: Services, user: UserContext, dataset: Dataset, details: dict[str, object]
) -> None:
    emit(
        services=services,
        user=user,
        event_type="dataset.updated",
        resource=f"dataset:{dataset.id}",
        department=dataset.department,
        details={"schema_version": dataset.schema_version, **details},
    )


def update_dataset(
    *,
    session: Session,
    services: Services,
    user: UserContext,
    dataset_id: str,
    patch: DatasetPatch,
) -> Dataset:
    """Apply a steward's corrections: field classification, titles, purposes, tags,
    region field. A dataset is never less sensitive than its most sensitive field."""
    dataset = load_dataset(session, dataset_id)
    require_steward(
        services=services, user=user, department=dataset.department, action="dataset:edit"
    )
    by_name = {f.name: f for f in dataset.fields}
    unknown = sorted(set(patch.fields) - set(by_name))
    if unknown:
        raise BadRequest(f"dataset {dataset_id} has no field(s) {', '.join(unknown)}")
    changed: list[str] = []
    for name, field_patch in patch.fields.items():
        field = by_name[name]
        for attr, value in field_patch.model_dump(exclude_unset=True).items():
            value = value.value if hasattr(value, "value") else value
            if getattr(field, attr) != value:
                setattr(field, attr, value)
                changed.append(f"fields.{name}.{attr}")
    fields_changed = bool(changed)
    simple = ("title_zh", "title_en", "description_zh", "description_en", "update_frequency")
    for attr in (*simple, "allowed_purposes", "tags"):
        value = getattr(patch, attr)
        if value is not None and getattr(dataset, attr) != value:
            setattr(dataset, attr, list(value) if isinstance(value, list) else value)
            changed.append(attr)
    if "region_field" in patch.model_fields_set and patch.region_field != dataset.region_field:
        if patch.region_field is not None and patch.region_field not in by_name:
            raise BadRequest(f"region_field {patch.region_field!r} is not a field of {dataset_id}")
        dataset.region_field = patch.region_field
        changed.append("region_field")
    floor = _max_level([f.level for f in dataset.fields])
    target = patch.level.value if patch.level is not None else dataset.level
    if Level(target).rank < Level(floor).rank:
        if patch.level is not None:
            raise BadRequest(f"dataset level {target} is below its most sensitive field ({floor})")
        target = floor
    if target != dataset.level:
        dataset.level = target
        changed.append("level")
    if fields_changed:
        dataset.schema_version += 1
    if changed:
        _emit(services, user, dataset, {"change": "edited", "changed": changed})
    session.flush()
    return dataset


def publish(*, session: Session, services: Services, user: UserContext, dataset_id: str) -> Dataset:
    """Make the entry visible in the catalog and queryable; the steward's current
    classification is the one accepted (the suggestions stay recorded)."""
    dataset = load_dataset(session, dataset_id)
    require_steward(
        services=services, user=user, department=dataset.department, action="dataset:publish"
    )
    if dataset.status == "published":
        return dataset
    if not dataset.fields:
        raise BadRequest(f"dataset {dataset_id} has no fields to publish")
    if not (dataset.title_zh or dataset.title_en):
        raise BadRequest(f"dataset {dataset_id} needs a title before it is published")
    dataset.status = "published"
    emit(
        services=services,
        user=user,
        event_type="dataset.published",
        resource=f"dataset:{dataset.id}",
        department=dataset.department,
        details={"schema_version": dataset.schema_version, "level": dataset.level},
    )
    session.flush()
    return dataset


def refresh_schema(
    *, session: Session, services: Services, user: UserContext, dataset_id: str
) -> DriftReport:
    """Re-introspect the entry's object and follow it: new columns become fields (with
    suggestions), removed ones are deleted, retyped ones take the new type."""
    dataset = load_dataset(session, dataset_id)
    require_steward(
        services=services, user=user, department=dataset.department, action="dataset:edit"
    )
    source = load_source(session, dataset.source_id)
    try:
        _obj, columns = _inspect_object(
            services=services, source=source, object_name=dataset.object_name
        )
    except NotFound:
        raise Conflict(
            f"object {dataset.object_name!r} no longer exists in source {source.id}"
        ) from None
    current = {f.name: f for f in dataset.fields}
    wanted = {c.name: c for c in columns}
    removed = [name for name in current if name not in wanted]
    added = [c.name for c in columns if c.name not in current]
    retyped = [
        Retyped(name=name, old=current[name].type, new=column.type)
        for name, column in wanted.items()
        if name in current and current[name].type != column.type
    ]
    for name in removed:
        dataset.fields.remove(current[name])
    if dataset.region_field in removed:
        dataset.region_field = None
    for change in retyped:
        current[change.name].type = change.new
    for position, column in enumerate(columns):
        if column.name in current:
            current[column.name].position = position
        else:
            dataset.fields.append(_new_field(column, position))
    report = DriftReport(
        dataset_id=dataset.id,
        added=added,
        removed=removed,
        retyped=retyped,
        schema_version=dataset.schema_version,
    )
    if report.changed:
        dataset.schema_version += 1
        dataset.level = _max_level([f.level for f in dataset.fields], dataset.level)
        report.schema_version = dataset.schema_version
        _emit(
            services,
            user,
            dataset,
            {
                "change": "schema_drift",
                "added": added,
                "removed": removed,
                "retyped": [r.model_dump() for r in retyped],
            },
        )
    return report
