"""A frozen entry's data is not published again under another entry.

A security officer's freeze (``gateway.stewardship.users.emergency``) is set on one
catalog entry, and lifting it takes an admin who did not impose it. The data it stops
is the entry's source object, though: a steward who drafted and published a second
entry over the same object — of the same source, or of another registration of the same
system, or an HTTP endpoint or a file under another object name — served the frozen rows again,
alone (red team 10). So a publication is refused while any other entry over that object
of that system is frozen; an entry published before the freeze is refused by the
broker while it stands (``enforcement.sources.objects`` compares entries for both).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import ANY_TABLE
from audit.sink import AuditSink
from catalog.errors import Conflict
from catalog.models import Dataset, DatasetStatus, Source
from gateway.core.services import Services
from gateway.enforcement.sources.lineage_now import Ask, asking_sources, freeze_near, frozen_now
from gateway.enforcement.sources.objects import (
    SourceView,
    frozen_holding,
    frozen_objects,
    location_of,
    system_of,
)

Publishing = tuple[str, str, Collection[str] | None, Collection[str] | None]
"""An entry checked against the freezes: id, object, field names, the tables it reads."""


def refuse_frozen_object(
    *, session: Session, dataset: Dataset, services: Services, reads: Collection[str] | None,
) -> None:  # fmt: skip
    """409 if another entry over ``dataset``'s object of the same system is frozen.
    ``reads``: what its object reads as the source told it for this very check
    (``lineage_now``), not as recorded: a view redefined over the frozen table since its
    draft was published during the freeze; and the frozen entries of its system are
    compared by what they read now too (``frozen_now``, stop 38)."""
    source = session.get(Source, dataset.source_id)
    if source is not None:
        names = [f.name for f in dataset.fields]  # a view of a frozen table too (red team 45)
        _refuse(session, source, dict(source.settings or {}),
                [(dataset.id, dataset.object_name, names, reads)],
                identity=source.server_identity, trail=services.audit,
                ask=asking_sources(session, services))  # fmt: skip


def refuse_repointed_at_frozen(*, session: Session, source: Source, settings: dict[str, Any],
                               trail: AuditSink | None) -> None:  # fmt: skip
    """409 if, with ``settings``, a published entry of ``source`` would read an object
    frozen under another entry: a re-pointed source (an HTTP object's path, a root, a
    database) needs no new publication to serve what the freeze stops (red team 10)."""
    own = session.execute(
        select(Dataset.id, Dataset.object_name, Dataset.status, Dataset.frozen_at,
               Dataset.reads).where(Dataset.source_id == source.id)
    ).all()  # fmt: skip
    before = dict(source.settings or {})
    for entry_id, name, _status, frozen_at, _reads in own:
        # the frozen entry stays on its object: moved off it (another path, root or
        # server), the object would be free for a new entry to publish
        if frozen_at is not None and (
            _moved(source.kind, before, settings)
            or location_of(source.kind, settings, name) != location_of(source.kind, before, name)
        ):
            raise Conflict(
                f"{entry_id!r} is frozen by a security officer: its source does not move "
                "it to another object until an admin lifts the freeze",
                frozen=entry_id,
            )
    # what each reads there is not known until a refresh asks (``forget_reads``): any
    # table of the system it now reaches, as the broker will take it (red team 51)
    published: list[Publishing] = [
        (i, n, None, None if reads is None else [ANY_TABLE])
        for i, n, status, _f, reads in own if status == DatasetStatus.PUBLISHED
    ]  # fmt: skip
    _refuse(session, source, settings, published, trail=trail)


def forget_reads(*, session: Session, source_id: str) -> None:
    """A source re-pointed: what its entries' objects read was told by the system it
    reached before (``datasets.reads``), and an object of the same name where it points
    now may be a view of any table there — a harmless table's entry re-pointed onto a
    view of a frozen or granted roll kept the harmless table's reads, so neither the
    freeze nor the grants linked it (red team 51). Each entry that was told now may read
    any table of its system (``ANY_TABLE``) until its steward's refresh asks the source
    again; one never told (a file, an endpoint, a draft from before 0023) keeps the
    name rules."""
    with session.no_autoflush:  # nothing written before the trail binds it (one writer)
        found = session.scalars(select(Dataset).where(Dataset.source_id == source_id)).all()
    for dataset in found:
        if dataset.reads is not None and dataset.reads != [ANY_TABLE]:
            dataset.reads = [ANY_TABLE]


def _moved(kind: str, before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether the settings reach another system (or one that cannot be told)."""
    was, now = system_of(kind, before), system_of(kind, after)
    return was is None or now is None or not was.same_system(now)


def _refuse(session: Session, source: Source, settings: dict[str, Any],
            entries: list[Publishing],
            identity: str | None = None, trail: AuditSink | None = None,
            ask: Ask | None = None) -> None:  # fmt: skip
    """``entries``: id, object name, field names and the tables it reads (None: not
    compared by them);
    ``identity``: the server the settings reach, when known (not yet for new ones);
    ``ask``: what a frozen entry of the system reads now, added to its recorded reads
    while a freeze stands there (``lineage_now.frozen_now``)."""
    if not entries:
        return
    mine = SourceView(source.id, source.kind, settings, identity, source.department)
    # a frozen entry of this very source reads what these settings make it read
    frozen = [replace(f, source=mine) if f.source.source_id == source.id else f
              for f in frozen_objects(session, trail)]  # fmt: skip
    if ask is not None and freeze_near(frozen, mine):
        frozen = frozen_now(frozen, mine, ask)
    for entry_id, object_name, names, reads in entries:
        held = frozen_holding(frozen, mine, entry_id, object_name, names, reads)
        if held is not None:
            raise Conflict(
                f"{held!r} reads the same object and is frozen by a security "
                "officer: no other entry reads it until an admin lifts the freeze",
                frozen=held,
            )
