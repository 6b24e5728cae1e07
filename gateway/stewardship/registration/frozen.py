"""A frozen entry's data is not published again under another entry.

A security officer's freeze (``gateway.stewardship.users.emergency``) is set on one
catalog entry, and lifting it takes an admin who did not impose it. The data it stops
is the entry's source object, though: a steward who drafted and published a second
entry over the same object — of the same source, or of another registration of the same
system, or an HTTP endpoint or a file under another object name — served the frozen rows again,
alone (red team 10). So a publication is refused while any other entry over that object
of that system is frozen. Entries published before the freeze are the officer's to
freeze too (the alert names the entry read).
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.http_config import path_segments
from catalog.errors import Conflict
from catalog.models import Dataset, DatasetStatus, Source
from catalog.service import DEREGISTERED
from gateway.enforcement.sources.targets import (
    FILE_KINDS,
    EffectiveTarget,
    from_tombstone,
    stored_target,
)


def _target(kind: str, settings: dict[str, Any]) -> EffectiveTarget | None:
    """The system a source reaches; a deregistered one's as its tombstone kept it."""
    tombstone = settings.get(DEREGISTERED)
    if tombstone is not None:
        return from_tombstone(tombstone.get("target") if isinstance(tombstone, dict) else None)
    return stored_target(kind, settings)


def _location(kind: str, settings: dict[str, Any], object_name: str) -> tuple[str, ...] | None:
    """What an entry's object reads, comparable across entries: an HTTP endpoint by the
    path it requests (the steward names endpoints: ``persons`` at ``/people`` is
    ``people``), a file by its real path (``sub/people.csv`` of one root is
    ``people.csv`` of the root below), a table by its schema and name, case folded.
    None for a withdrawn source: its tombstone keeps the system, not the objects, so
    every object of that system is taken as its frozen entry's."""
    if DEREGISTERED in settings:
        return None
    if kind == "http":
        for obj in settings.get("objects") or ():
            if isinstance(obj, dict) and obj.get("name") == object_name:
                base = urllib.parse.urlsplit(str(settings.get("base_url") or "")).path
                path = urllib.parse.urlsplit(f"{base}/{obj.get('path') or ''}").path
                return ("http", *path_segments(path))
    if kind in FILE_KINDS:
        root, single = settings.get("root"), settings.get("path")
        base = root if isinstance(root, str) else os.path.dirname(str(single or ""))
        if base:
            return ("file", os.path.realpath(os.path.join(base, object_name)))
    schema = settings.get("schema")
    return ("name", str(schema or "").casefold(), object_name.casefold())


def refuse_frozen_object(*, session: Session, dataset: Dataset) -> None:
    """409 if another entry over ``dataset``'s object of the same system is frozen."""
    source = session.get(Source, dataset.source_id)
    if source is not None:
        _refuse(session, source, dict(source.settings or {}), [(dataset.id, dataset.object_name)])


def refuse_repointed_at_frozen(*, session: Session, source: Source,
                               settings: dict[str, Any]) -> None:  # fmt: skip
    """409 if, with ``settings``, a published entry of ``source`` would read an object
    frozen under another entry: a re-pointed source (an HTTP object's path, a root, a
    database) needs no new publication to serve what the freeze stops (red team 10)."""
    own = session.execute(
        select(Dataset.id, Dataset.object_name, Dataset.status, Dataset.frozen_at).where(
            Dataset.source_id == source.id
        )
    ).all()  # fmt: skip
    before = dict(source.settings or {})
    for entry_id, name, _status, frozen_at in own:
        # the frozen entry stays on its object: moved off it (another path, root or
        # server), the object would be free for a new entry to publish
        if frozen_at is not None and (
            _moved(source.kind, before, settings)
            or _location(source.kind, settings, name) != _location(source.kind, before, name)
        ):
            raise Conflict(
                f"{entry_id!r} is frozen by a security officer: its source does not move "
                "it to another object until an admin lifts the freeze",
                frozen=entry_id,
            )
    published = [(i, n) for i, n, status, _f in own if status == DatasetStatus.PUBLISHED]
    _refuse(session, source, settings, published)


def _moved(kind: str, before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether the settings reach another system (or one that cannot be told)."""
    was, now = _target(kind, before), _target(kind, after)
    return was is None or now is None or not was.same_system(now)


def _refuse(session: Session, source: Source, settings: dict[str, Any],
            entries: list[tuple[str, str]]) -> None:  # fmt: skip
    frozen = session.execute(
        select(Dataset.id, Dataset.object_name, Source.id, Source.kind, Source.settings)
        .join(Source, Source.id == Dataset.source_id)
        .where(Dataset.frozen_at.is_not(None))
    ).all()  # fmt: skip
    if not frozen or not entries:
        return
    mine = _target(source.kind, settings)
    for entry_id, object_name, source_id, kind, other_settings in frozen:
        same = source_id == source.id
        other = settings if same else dict(other_settings or {})
        theirs = None if same else _target(kind, other)
        if not same and (mine is None or theirs is None or not mine.same_system(theirs)):
            continue
        theirs_at = _location(kind, other, object_name)
        for mine_id, mine_name in entries:
            where = _location(source.kind, settings, mine_name)
            if mine_id != entry_id and (where is None or theirs_at is None or where == theirs_at):
                raise Conflict(
                    f"{entry_id!r} reads the same object and is frozen by a security "
                    "officer: no other entry reads it until an admin lifts the freeze",
                    frozen=entry_id,
                )
