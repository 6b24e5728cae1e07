"""A frozen entry's data is not published again under another entry.

A security officer's freeze (``gateway.stewardship.users.emergency``) is set on one
catalog entry, and lifting it takes an admin who did not impose it. The data it stops
is the entry's source object, though: a steward who drafted and published a second
entry over the same object — of the same source, or of another registration of the same
system — served the frozen rows again, alone (red team 10). So a publication is refused
while any other entry over that object of that system is frozen. Entries published
before the freeze are the officer's to freeze too (the alert names the entry read).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import Conflict
from catalog.models import Dataset, Source
from catalog.service import DEREGISTERED
from gateway.enforcement.sources.targets import EffectiveTarget, from_tombstone, stored_target


def _target(kind: str, settings: dict[str, Any]) -> EffectiveTarget | None:
    """The system a source reaches; a deregistered one's as its tombstone kept it."""
    tombstone = settings.get(DEREGISTERED)
    if tombstone is not None:
        return from_tombstone(tombstone.get("target") if isinstance(tombstone, dict) else None)
    return stored_target(kind, settings)


def refuse_frozen_object(*, session: Session, dataset: Dataset) -> None:
    """409 if another entry over ``dataset``'s object of the same system is frozen."""
    frozen = session.execute(
        select(Dataset.id, Dataset.object_name, Source.id, Source.kind, Source.settings)
        .join(Source, Source.id == Dataset.source_id)
        .where(Dataset.frozen_at.is_not(None), Dataset.id != dataset.id)
    ).all()  # fmt: skip
    name = dataset.object_name.casefold()
    alike = [row for row in frozen if row[1].casefold() == name]
    if not alike:
        return
    source = session.get(Source, dataset.source_id)
    mine = _target(source.kind, dict(source.settings or {})) if source is not None else None
    for entry_id, _object, source_id, kind, settings in alike:
        other = None if source_id == dataset.source_id else _target(kind, dict(settings or {}))
        if source_id == dataset.source_id or (
            mine is not None and other is not None and mine.same_system(other)
        ):
            raise Conflict(
                f"{entry_id!r} reads the same object and is frozen by a security officer: "
                "no other entry publishes it until an admin lifts the freeze",
                frozen=entry_id,
            )
