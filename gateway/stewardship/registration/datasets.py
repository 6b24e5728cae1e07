"""Catalog entries from a steward's side: draft from a source object, classify, publish,
and follow the source's schema (drift).

What needs an adapter stays here — introspecting the object and sampling it for
suggestions — and so do the two gates and the audit record; every write is
``catalog.service``'s. Each function: permission, then the catalog change (in the
session only), then the audit event, then the flush (``registration.access`` says
why in that order). Like every service function these never commit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import ObjectInfo
from audit.event_types import EventType
from catalog import service as catalog
from catalog.drift import Column, Drift, compare
from catalog.edits import DESCRIPTIVE
from catalog.entry_seals import dataset_loaded_holds
from catalog.errors import Conflict, EntryUnsealed, NotFound
from catalog.models import Dataset, DatasetStatus, Source
from catalog.row_seals import seals_for
from catalog.schemas import DatasetPatch
from catalog.source_seals import source_key
from catalog.suggestions import below_suggestion
from gateway.core.services import Services
from gateway.enforcement.sources.connect import open_source_adapter
from gateway.enforcement.sources.lineage_now import reads_now, reads_of_source
from gateway.stewardship.registration.access import emit, require_steward
from gateway.stewardship.registration.frozen import refuse_frozen_object
from gateway.stewardship.registration.schemas import (
    ColumnProposal,
    DraftIn,
    DriftReport,
    Retyped,
    checked,
)
from gateway.stewardship.registration.service import columns_of, scrubbed
from gateway.stewardship.row_locks import hold_rows
from gateway.stewardship.row_trail import bind_until_commit, bind_written, require_entry_current
from policies.decision import UserContext


@dataclass(frozen=True)
class Inspected:
    """A source object as introspection found it: its columns with a proposal for each
    (one bounded sample) and the tables it reads (``SourceAdapter.lineage``: a view is
    its table's data whatever its columns are called, red team 48)."""

    obj: ObjectInfo
    proposals: list[ColumnProposal]
    reads: frozenset[str] | None


def _inspect_object(*, services: Services, source: Source, object_name: str) -> Inspected:
    adapter = open_source_adapter(services=services, source=source)
    with scrubbed(None):
        try:
            found = {o.name: o for o in adapter.list_objects()}
            if object_name not in found:
                raise NotFound(f"source {source.id} has no object {object_name!r}")
            obj = found[object_name]
            proposals = columns_of(adapter, obj, services)
            reads = reads_now(source.kind, object_name, lambda: adapter, close=False,
                              within_s=None)  # fmt: skip
            return Inspected(obj, proposals, reads)
        finally:
            adapter.close()


def _columns(proposals: Sequence[ColumnProposal]) -> list[Column]:
    return [
        Column(
            name=p.name,
            type=p.type,
            suggested_level=p.suggestion.level,
            suggested_pi_category=p.suggestion.pi_category,
        )
        for p in proposals
    ]


def default_dataset_id(department: str, object_name: str) -> str:
    """``<department>.<object>``, the catalog's convention for an entry id (its prefix is
    its source's department: ``catalog.service.require_department_prefix``)."""
    return re.sub(r"[^a-z0-9_.\-]+", "_", f"{department}.{object_name}".lower())[:128]


def _editable(
    *, session: Session, services: Services, user: UserContext, dataset_id: str, action: str
) -> Dataset:
    """The entry (drafts too), once ``user`` may ``action`` it."""
    dataset = catalog.get_dataset(session=session, dataset_id=dataset_id, include_drafts=True)
    require_steward(services=services, user=user, department=dataset.department, action=action)
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
    and category, and the suggestion is kept in ``suggested_*`` for the record. The input
    is held to the API's schema (``checked``: ``DraftIn``) whichever door it came through
    (the console's form and ``sluice datasets create`` had none: red team 16), so every
    route can name the entry, no two ids differ in case only and no title outgrows its
    column."""
    checked(DraftIn, {"source_id": source_id, "object_name": object_name,
                      "dataset_id": dataset_id, "title_zh": title_zh, "title_en": title_en,
                      "description_zh": description_zh, "description_en": description_en,
                      "allowed_purposes": list(allowed_purposes), "tags": list(tags)})  # fmt: skip
    source = catalog.get_source(session=session, source_id=source_id)
    require_steward(
        services=services, user=user, department=source.department, action="dataset:edit"
    )
    dataset_id = dataset_id or default_dataset_id(source.department, object_name)
    # both before the source is introspected (the catalog checks them again as it adds)
    catalog.require_department_prefix(dataset_id=dataset_id, department=source.department)
    catalog.require_new_dataset_id(session=session, dataset_id=dataset_id)
    inspected = _inspect_object(services=services, source=source, object_name=object_name)
    # the source again under its write lock (held to the commit): a deregistration of it
    # committed meanwhile (it locks only the entries it loaded) left a draft of a
    # deregistered source, on record (red team 26); the entry's id is read afresh under
    # its own lock as the draft is added, before its record (``row_trail._hold_new``)
    hold_rows(session, [source_key(source.id)])
    if catalog.deregistered_now(session, source.id):
        raise Conflict(f"source {source.id!r} was deregistered")
    dataset = catalog.create_draft(
        session=session, source_id=source.id, object_name=object_name, dataset_id=dataset_id,
        columns=_columns(inspected.proposals), reads=inspected.reads, title_zh=title_zh,
        title_en=title_en,
        description_zh=description_zh, description_en=description_en,
        allowed_purposes=allowed_purposes, tags=tags,
    )  # fmt: skip
    _emit(services, user, dataset, {"change": "draft_created", "fields": len(dataset.fields)})
    session.flush()
    return dataset


def _emit(
    services: Services, user: UserContext, dataset: Dataset, details: dict[str, object]
) -> None:
    emit(
        services=services,
        user=user,
        event_type=EventType.DATASET_UPDATED,
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
    _editable(
        session=session, services=services, user=user, dataset_id=dataset_id,
        action="dataset:edit",
    )  # fmt: skip
    if patch.fields:  # by a column read: the entry and its fields are loaded by the edit
        # itself, in the two SELECTs whose torn read it refuses (red team 20)
        frozen_at = session.scalar(select(Dataset.frozen_at).where(Dataset.id == dataset_id))
        _refuse_reshaping_frozen(dataset_id, frozen_at)
    edited = catalog.update_dataset(session=session, dataset_id=dataset_id, patch=patch)
    bind_until_commit(services.audit, session)  # the entry's new state first (row_trail)
    _require_governing(session, edited.dataset, edited.changed)  # after a torn read's 409
    if edited.changed:
        details: dict[str, object] = {"change": "edited", "changed": list(edited.changed)}
        below = _lowered_below_suggestion(edited.dataset, edited.changed)
        if below:
            details["below_suggestion"] = below  # a published field lowered: alert rule
        _emit(services, user, edited.dataset, details)
    session.flush()
    return edited.dataset


def _require_governing(
    session: Session, dataset: Dataset, changed: Sequence[str] | None = None
) -> None:
    """``EntryUnsealed`` (423) for a steward's change of what governs an entry (its
    classification, purposes, region field; with ``changed`` None, a refresh) whose row,
    as loaded, does not verify: such a write is neither sealed nor bound (``row_trail``),
    so it was on record (``dataset.updated``) without governing — a field raised to L4 on
    the roll an insider had unsealed, then the roll's rows from before written back:
    served at the old level, the trail saying it was raised (red team 53). Its sealed
    values are written back first (or ``sluice catalog rebind``). A title, a description
    or tags (no seal covers them) are still saved, unsealed (``catalog.entry_seals``)."""
    if dataset_loaded_holds(seals_for(session.connection()), dataset):
        return
    if changed is not None and not any(map(_governs, changed)):
        return
    raise EntryUnsealed(f"dataset {dataset.id!r} was changed outside the gateway; its "
                        "sealed values are restored before it is changed")  # fmt: skip


# what no entry seal covers (``catalog.entry_seals.legacy_dataset_values``): the
# descriptive values but the purposes, which the seal does cover
_UNSEALED = frozenset(DESCRIPTIVE) - {"allowed_purposes"}


def _governs(changed: str) -> bool:
    """Whether an edit's change (``catalog.edits.apply_patch``'s name) is a sealed value."""
    return changed not in _UNSEALED and not (
        changed.startswith("fields.") and changed.endswith(".description"))  # fmt: skip


def _refuse_reshaping_frozen(dataset_id: str, frozen_at: datetime | None) -> None:
    """409 for a change of a frozen entry's fields while the freeze stands: the freeze
    holds the entries over views of its table by its fields (``objects.shows_part_of``:
    theirs among its own, one personal here), and its steward's edit of every field to
    no PI category, or a refresh that renames them, freed those views (red team 48)."""
    if frozen_at is not None:
        raise Conflict(
            f"{dataset_id!r} is frozen by a security officer: its fields are not changed "
            "until an admin lifts the freeze",
            frozen=dataset_id,
        )


def _lowered_below_suggestion(dataset: Dataset, changed: Sequence[str]) -> list[dict[str, str]]:
    """On a published entry, the fields whose level or category this edit set below the
    suggestion (a category dropped unmasks as surely as a level lowered: red team 63)."""
    if dataset.status != DatasetStatus.PUBLISHED:
        return []
    parts = [c.removeprefix("fields.").rsplit(".", 1) for c in changed if c.startswith("fields.")]
    reclassified = {p[0] for p in parts if p[-1] in ("level", "pi_category")}
    return below_suggestion(f for f in dataset.fields if f.name in reclassified)


def publish(*, session: Session, services: Services, user: UserContext, dataset_id: str) -> Dataset:
    """Make the entry visible in the catalog and queryable; the steward's current
    classification is the one accepted (the suggestions stay recorded)."""
    dataset = _editable(
        session=session, services=services, user=user, dataset_id=dataset_id,
        action="dataset:publish",
    )  # fmt: skip
    if dataset.status == DatasetStatus.PUBLISHED:
        return dataset
    # what its object reads now, asked before the entry's lock is taken (a connection to
    # the source): a view redefined since the draft is compared, and recorded, as it is
    # (a deregistered source's draft is refused 409 below, as before)
    source = session.get(Source, dataset.source_id)
    reads = None if source is None else reads_of_source(services, source, dataset.object_name)
    require_entry_current(session, dataset)  # not while a save of it is in flight
    # refusals before the record, under the entry's lock (a deregistration holds it)
    catalog.require_publishable(session=session, dataset=dataset)
    refuse_frozen_object(session=session, dataset=dataset, services=services,
                         reads=reads)  # no copy  # fmt: skip
    emit(
        services=services,
        user=user,
        event_type=EventType.DATASET_PUBLISHED,
        resource=f"dataset:{dataset.id}",
        department=dataset.department,
        # fields below the classifier's evidence-based suggestion: an alert rule reads it
        details={
            "schema_version": dataset.schema_version,
            "level": dataset.level,
            "below_suggestion": below_suggestion(dataset.fields),
            # what it is recorded as reading (``reads_change``): the freezes and grants
            # compare by it, and "any table" links it with its whole system (red team 53)
            "reads": dataset.reads if reads is None else sorted(reads),
        },
    )
    # its new state bound first (row_trail), as its seal will be written
    bind_written(services.audit, session, dataset, status=DatasetStatus.PUBLISHED.value,
                 **catalog.reads_change(dataset, reads))  # fmt: skip
    # the write after the record (on SQLite the trail shares the one writer), and only
    # if the source is still live: a deregistration in between wins (409)
    catalog.publish_dataset(session=session, dataset_id=dataset_id, reads=reads)
    session.flush()
    return dataset


def _object_now(*, session: Session, services: Services, dataset: Dataset) -> Inspected:
    """The entry's object now, with suggestions (409 if the object is gone)."""
    source = catalog.get_source(session=session, source_id=dataset.source_id)
    try:
        return _inspect_object(services=services, source=source, object_name=dataset.object_name)
    except NotFound:
        raise Conflict(
            f"object {dataset.object_name!r} no longer exists in source {source.id}"
        ) from None


def _report(dataset: Dataset, drift: Drift) -> DriftReport:
    return DriftReport(
        dataset_id=dataset.id,
        added=list(drift.added),
        removed=list(drift.removed),
        retyped=[Retyped(name=r.name, old=r.old, new=r.new) for r in drift.retyped],
        schema_version=dataset.schema_version,
    )


def refresh_schema(
    *, session: Session, services: Services, user: UserContext, dataset_id: str
) -> DriftReport:
    """Re-introspect the entry's object and follow it: new columns become fields (with
    suggestions), removed ones are deleted, retyped ones take the new type."""
    dataset = _editable(
        session=session, services=services, user=user, dataset_id=dataset_id,
        action="dataset:edit",
    )  # fmt: skip
    _require_governing(session, dataset)
    # an entry a freeze holds keeps its fields while it stands: a column added to a view
    # took it out of the freeze's reach, which publication refuses (red team 48)
    _refuse_reshaping_frozen(dataset.id, dataset.frozen_at)
    now = _object_now(session=session, services=services, dataset=dataset)
    if dataset.status == DatasetStatus.PUBLISHED:  # by what it reads now (stop 38)
        refuse_frozen_object(session=session, dataset=dataset, services=services,
                             reads=now.reads)  # fmt: skip
    reads_before = dataset.reads
    drift = catalog.refresh_fields(session=session, dataset_id=dataset_id,
                                   columns=_columns(now.proposals), reads=now.reads)  # fmt: skip
    bind_until_commit(services.audit, session)  # the entry's new state first (row_trail)
    # what it reads changed alone (a view redefined at the source) is on record too: it
    # links the entry with others for the freezes and the grants (red team 53)
    relinked = {"reads": dataset.reads} if dataset.reads != reads_before else {}
    if drift.changed or relinked:
        _emit(
            services,
            user,
            dataset,
            {
                "change": "schema_drift",
                "added": list(drift.added),
                "removed": list(drift.removed),
                "retyped": [{"name": r.name, "old": r.old, "new": r.new} for r in drift.retyped],
                **relinked,
            },
        )
    return _report(dataset, drift)


def pending_drift(
    *, session: Session, services: Services, user: UserContext, dataset_id: str
) -> DriftReport:
    """What a refresh would follow, changing nothing: the same introspection and the
    same comparison (``catalog.drift.compare``, which ``refresh_fields`` applies), so a
    steward sees the drift before deciding to follow it. Nothing changes, so nothing
    is recorded (as an introspection is not)."""
    dataset = _editable(
        session=session, services=services, user=user, dataset_id=dataset_id,
        action="dataset:edit",
    )  # fmt: skip
    columns = _columns(_object_now(session=session, services=services, dataset=dataset).proposals)
    return _report(dataset, compare(dataset.fields, columns))
