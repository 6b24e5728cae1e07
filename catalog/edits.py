"""A steward's corrections of an entry and the rules an entry must keep while edited.

An entry is never less sensitive than its most sensitive field: a level below that is
refused when asked for and raised to it otherwise. ``schema_version`` counts changes
to the entry's fields (a field's classification here, columns in ``catalog.drift``), so
anything cached per version — a policy decision, a compiled plan — is invalidated.
Each function changes the ORM rows only; the caller records and flushes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from catalog.errors import BadRequest, Unprocessable
from catalog.mask_reveal import shows_more
from catalog.mask_specs import type_misfit
from catalog.models import Dataset, Field
from catalog.schemas import DatasetPatch, FieldPatch
from catalog.vocabulary import Level

# the entry's own attributes a patch may set when given (None: unchanged)
DESCRIPTIVE = (
    "title_zh", "title_en", "description_zh", "description_en", "update_frequency",
    "allowed_purposes", "tags",
)  # fmt: skip


def max_level(levels: Iterable[str], floor: str = Level.L2) -> str:
    """The most sensitive of ``levels``, at least ``floor``."""
    return max([floor, *levels], key=lambda value: Level(value).rank)


def apply_patch(dataset: Dataset, patch: DatasetPatch) -> list[str]:
    """Apply ``patch``; returns what changed (``fields.<name>.<attr>``, attribute names)."""
    by_name = {f.name: f for f in dataset.fields}
    unknown = sorted(set(patch.fields) - set(by_name))
    if unknown:
        raise BadRequest(f"dataset {dataset.id} has no field(s) {', '.join(unknown)}")
    changed = _patch_fields(by_name, patch.fields)
    fields_changed = bool(changed)
    changed += _patch_descriptive(dataset, patch)
    changed += _patch_region_field(dataset, patch, by_name)
    changed += _settle_level(dataset, patch.level)
    if fields_changed:
        dataset.schema_version += 1
    return changed


def _patch_fields(by_name: Mapping[str, Field], patches: Mapping[str, FieldPatch]) -> list[str]:
    _check_masks_fit(by_name, patches)
    changed: list[str] = []
    for name, field_patch in patches.items():
        field = by_name[name]
        for attr, value in field_patch.model_dump(mode="json", exclude_unset=True).items():
            if getattr(field, attr) != value:
                setattr(field, attr, value)
                changed.append(f"fields.{name}.{attr}")
    return changed


def _check_masks_fit(by_name: Mapping[str, Field], patches: Mapping[str, FieldPatch]) -> None:
    """Every mask override asked for fits its field's type (``mask_specs.type_misfit``)
    and shows no more than the default mask of the category the field will have
    (``mask_reveal.shows_more``: the pair is judged, so an override set on a ``none``
    field cannot be turned into a revealing one by a later change of category), checked
    before anything changes: 422 naming each field that does not."""
    misfits = {}
    for name, field_patch in patches.items():
        problem = _mask_problem(by_name[name], field_patch)
        if problem is not None:
            misfits[name] = problem
    if misfits:
        listed = "; ".join(f"{name}: {problem}" for name, problem in sorted(misfits.items()))
        raise Unprocessable(f"mask refused ({listed})", fields=misfits)


def _mask_problem(field: Field, field_patch: FieldPatch) -> str | None:
    """Why the field's override after ``field_patch`` is refused (``None``: it is not).
    A patch that touches neither the override nor the category leaves the pair alone."""
    asked = field_patch.model_fields_set
    if not {"mask_override", "pi_category"} & asked:
        return None
    spec = field_patch.mask_override if "mask_override" in asked else field.mask_override
    if spec is None:
        return None
    category = field_patch.pi_category if field_patch.pi_category is not None else field.pi_category
    misfit = type_misfit(spec, field.type) if "mask_override" in asked else None
    return misfit if misfit is not None else shows_more(spec, category)


def _patch_descriptive(dataset: Dataset, patch: DatasetPatch) -> list[str]:
    changed: list[str] = []
    for attr in DESCRIPTIVE:
        value = getattr(patch, attr)
        if value is not None and getattr(dataset, attr) != value:
            setattr(dataset, attr, list(value) if isinstance(value, list) else value)
            changed.append(attr)
    return changed


def _patch_region_field(
    dataset: Dataset, patch: DatasetPatch, by_name: Mapping[str, Field]
) -> list[str]:
    """Only when named in the patch: ``"region_field": null`` removes it."""
    if "region_field" not in patch.model_fields_set or patch.region_field == dataset.region_field:
        return []
    if patch.region_field is not None and patch.region_field not in by_name:
        raise BadRequest(f"region_field {patch.region_field!r} is not a field of {dataset.id}")
    dataset.region_field = patch.region_field
    return ["region_field"]


def _settle_level(dataset: Dataset, asked: Level | None) -> list[str]:
    """The level asked for (refused below the fields'), else the current one raised to
    the fields' floor."""
    floor = max_level(f.level for f in dataset.fields)
    target = asked.value if asked is not None else dataset.level
    if Level(target).rank < Level(floor).rank:
        if asked is not None:
            raise BadRequest(f"dataset level {target} is below its most sensitive field ({floor})")
        target = floor
    if target == dataset.level:
        return []
    dataset.level = target
    return ["level"]


def check_publishable(dataset: Dataset) -> None:
    """An entry is published with at least one field and a title (either language)."""
    if not dataset.fields:
        raise BadRequest(f"dataset {dataset.id} has no fields to publish")
    if not (dataset.title_zh or dataset.title_en):
        raise BadRequest(f"dataset {dataset.id} needs a title before it is published")
