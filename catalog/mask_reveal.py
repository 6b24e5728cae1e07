"""What a steward's mask override may show of a personal field: never more than the
default mask of the field's personal-information category.

Why: the level and the category decide who sees a field and that it is masked, and the
alerts read them (``below_suggested_level``); the override decides *how*. An override
that keeps more than the category's default — ``keep_first:17`` on an 18-character ID
number (its check character follows from the first 17), ``keep_last:17``, ``round:1``
on a number, ``replace:1`` (every other digit shown) — declassifies the field in effect
while its level and category still say "masked". So masks are ordered by what they
show of the value, per category, and an override on a field with a category other than
``none`` must show at most what the default shows:

- ``redact``, ``hash`` and ``id_number_fpe`` show nothing of the value (null, or a
  pseudonym keyed by the case): allowed on every field;
- the category's default itself (and ``date_year``, the same as ``birth_date_year``);
- ``keep_first:n`` / ``keep_last:n`` with ``n`` at most the characters the default keeps
  at that end (ID number 6 / 4, phone 3 / 4, name 1 / 0, bank card 0 / 4; none for an
  address, a birth date, a USCC or free text, whose default keeps no fixed count);
- ``round:<step>`` only where the default keeps leading digits, with a step that hides
  all the others (ID number: 18 digits, 6 kept, step ≥ 10¹²; phone: 11 digits, 3 kept,
  step ≥ 10⁸);
- nothing else: ``replace`` shows whatever its pattern does not match, ``bucket``
  bounds can single out one value, and ``date_month`` / ``date_shift`` show more of a
  birth date than its year.

A field of category ``none`` is in clear to everyone the level admits, so any override
there shows less and is allowed. The counts are those of a value of the category's
shape; a value of another shape (which the default masks whole) shows at most that many
characters under a ``keep`` override. Read on save by ``catalog.edits`` (a patch, with
the category the field will have) and by ``catalog.schemas.FieldIn`` (a new entry), and
when an entry is given to the policy (``governing_override``): an override stored before
this rule, or written behind the catalog, that shows more is not applied — the field
falls back to its category's default.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.mask_specs import is_mask_spec, parse_mask_spec
from catalog.vocabulary import DEFAULT_MASK, MaskMethod, PICategory

SHOW_NOTHING: frozenset[MaskMethod] = frozenset(
    {MaskMethod.REDACT, MaskMethod.HASH, MaskMethod.ID_NUMBER_FPE}
)
"""Overrides that show nothing of the value: allowed on every field."""


@dataclass(frozen=True, slots=True)
class Allowance:
    """What a category's default mask shows, as the overrides that show no more."""

    same: frozenset[MaskMethod]  # plain methods showing what the default shows
    head: int = 0  # characters the default keeps at the start (``keep_first`` ≤ this)
    tail: int = 0  # characters it keeps at the end (``keep_last`` ≤ this)
    min_step: int | None = None  # smallest ``round`` step (None: no ``round``)


ALLOWANCES: dict[PICategory, Allowance] = {
    PICategory.ID_NUMBER: Allowance(
        frozenset({MaskMethod.ID_NUMBER_PARTIAL}), head=6, tail=4, min_step=10**12
    ),
    PICategory.PHONE: Allowance(
        frozenset({MaskMethod.PHONE_PARTIAL}), head=3, tail=4, min_step=10**8
    ),
    PICategory.NAME: Allowance(frozenset({MaskMethod.NAME_SURNAME}), head=1),
    PICategory.BANK_CARD: Allowance(frozenset({MaskMethod.BANK_CARD_LAST4}), tail=4),
    PICategory.ADDRESS: Allowance(frozenset({MaskMethod.ADDRESS_DISTRICT})),
    PICategory.BIRTH_DATE: Allowance(frozenset({MaskMethod.BIRTH_DATE_YEAR, MaskMethod.DATE_YEAR})),
    PICategory.USCC: Allowance(frozenset()),  # the default, hash, shows nothing
    PICategory.FREE_TEXT: Allowance(frozenset()),  # the default, redact, shows nothing
}


def allowed_overrides(category: PICategory) -> str:
    """The overrides a field of ``category`` may have, as one line for a message."""
    allowance = ALLOWANCES.get(category)
    if allowance is None:
        return "any mask"
    named = sorted(m.value for m in SHOW_NOTHING | allowance.same)
    if allowance.head:
        named.append(f"keep_first:1-{allowance.head}")
    if allowance.tail:
        named.append(f"keep_last:1-{allowance.tail}")
    if allowance.min_step is not None:
        named.append(f"round:{allowance.min_step} or coarser")
    return ", ".join(named)


def shows_more(spec: str, category: str) -> str | None:
    """Why the valid spec ``spec`` would show more of a field of ``category`` than the
    category's default mask (``None``: it shows no more)."""
    try:
        kind = PICategory(category)
        parsed = parse_mask_spec(spec)
    except ValueError:  # a row written behind the catalog: nothing to compare, refused
        return "the stored mask or category is not one the catalog knows"
    allowance = ALLOWANCES.get(kind)
    if allowance is None:  # ``none``: the default is the value in clear
        return None
    method = parsed.method
    if method in SHOW_NOTHING or method in allowance.same:
        return None
    default = DEFAULT_MASK[kind].value
    if method in (MaskMethod.KEEP_FIRST, MaskMethod.KEEP_LAST) and parsed.keep is not None:
        limit = allowance.head if method is MaskMethod.KEEP_FIRST else allowance.tail
        if parsed.keep <= limit:
            return None
        end = "leading" if method is MaskMethod.KEEP_FIRST else "trailing"
        shown = f"keeps {parsed.keep} {end} characters; the default {default} keeps {limit}"
    elif method is MaskMethod.ROUND and parsed.step is not None:
        if allowance.min_step is not None and parsed.step >= allowance.min_step:
            return None
        shown = f"shows the digits above its step; the default {default} hides more"
    else:
        shown = f"shows more than the default {default}"
    return f"{parsed.text} on a {category} field {shown} (allowed: {allowed_overrides(kind)})"


def governing_override(spec: str | None, category: str) -> str | None:
    """The override the policy is given for a stored field: the stored one, or none
    (the category's default mask) when it is a valid spec that shows more than that
    default — saved before the rule, or written behind the catalog's back. An invalid
    spec is passed on as stored: the decision schema refuses it (fail closed, 503)."""
    if spec is None or not is_mask_spec(spec):
        return spec
    return spec if shows_more(spec, category) is None else None
