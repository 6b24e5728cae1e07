"""An entry's fields from its source object's columns: the first draft, and following
the object when it changes (schema drift).

The columns come from introspection (stewardship, which holds the adapter) with the
classification ``catalog.suggestions`` proposes; a new field starts at that suggestion
and keeps it in ``suggested_*`` for the record. A removed column is deleted from the
entry at once: the broker only ever names fields the entry has, so queries cannot
reach it any more. Functions change the ORM rows only; the caller records and flushes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from catalog.edits import max_level
from catalog.errors import BadRequest
from catalog.models import Dataset, Field
from catalog.reserved_names import GATEWAY_COLUMNS, RESERVED_PREFIX, is_reserved
from catalog.vocabulary import Level, PICategory


@dataclass(frozen=True)
class Column:
    """A column of a source object as introspection found it, with its suggestion."""

    name: str
    type: str
    suggested_level: Level
    suggested_pi_category: PICategory


def new_field(column: Column, position: int) -> Field:
    """A field classified as suggested, the suggestion kept on record; never one named
    as the gateway's own columns (``catalog.reserved_names``)."""
    if is_reserved(column.name):
        raise BadRequest(
            f"column {column.name!r}: {sorted(GATEWAY_COLUMNS)} and names starting with "
            f"{RESERVED_PREFIX!r} are the gateway's own; expose the column under another "
            "name (a view, a header)"
        )
    return Field(
        name=column.name,
        position=position,
        type=column.type,
        level=column.suggested_level.value,
        pi_category=column.suggested_pi_category.value,
        description="",
        suggested_level=column.suggested_level.value,
        suggested_pi_category=column.suggested_pi_category.value,
    )


@dataclass(frozen=True)
class Retyped:
    name: str
    old: str
    new: str


@dataclass(frozen=True)
class Drift:
    """How the object's columns differ from the entry's fields (in column order)."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    retyped: tuple[Retyped, ...]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.retyped)


def compare(fields: Sequence[Field], columns: Sequence[Column]) -> Drift:
    """How ``columns`` differ from ``fields``: added in column order, removed in field order."""
    current = {f.name: f.type for f in fields}
    wanted = {c.name for c in columns}
    return Drift(
        added=tuple(c.name for c in columns if c.name not in current),
        removed=tuple(name for name in current if name not in wanted),
        retyped=tuple(
            Retyped(name=c.name, old=current[c.name], new=c.type)
            for c in columns
            if c.name in current and current[c.name] != c.type
        ),
    )


def follow_columns(dataset: Dataset, columns: Sequence[Column]) -> Drift:
    """New columns become fields, removed ones are deleted (and stop being the region
    field), retyped ones take the new type; fields take the columns' order. A change
    bumps ``schema_version`` and may raise the entry's level, never lower it."""
    drift = compare(dataset.fields, columns)
    current = {f.name: f for f in dataset.fields}
    for name in drift.removed:
        dataset.fields.remove(current.pop(name))
    if dataset.region_field in drift.removed:
        dataset.region_field = None
    for position, column in enumerate(columns):
        field = current.get(column.name)
        if field is None:
            dataset.fields.append(new_field(column, position))
        else:
            field.type, field.position = column.type, position
    if drift.changed:
        dataset.schema_version += 1
        dataset.level = max_level((f.level for f in dataset.fields), dataset.level)
    return drift
