"""Mask specs: the text that names a mask, with its parameters when it takes any.

A spec is a ``MaskMethod`` value (``id_number_partial``, ``date_month``, ``hash`` …) or,
for the methods a steward parametrises, ``method:argument``::

    round:100             amounts to the nearest multiple of 100 (half away from zero)
    bucket:500,1000,5000  amounts into ranges: <500, [500,1000), [1000,5000), >=5000
    keep_first:3          keep the first 3 characters, one * for each other one
    keep_last:4           keep the last 4 characters
    replace:#{4}          every match of a small pattern becomes one * per character

Why one grammar, parsed here: the spec is stored in a field's ``mask_override``, passed
through the policy into the decision and applied by the gateway. The catalog refuses a
bad one when the steward saves it, the decision schema (``policies.schema``) accepts
a parametrised spec only as the field's own stored override, and the masking code
parses it again before any value is read; all three read this module. A spec is at most
``MAX_SPEC_CHARS`` characters: the width of the ``mask_override`` column.

Patterns (``replace``) are deliberately not regular expressions: each item is one
character — ``#`` an ASCII digit, ``@`` an ASCII letter, ``?`` any character, or a
literal letter, digit, CJK character or one of ``-_./:()+ ``, optionally followed by
``{n}`` (exactly n, 1–32). No alternation, groups, open repetition or backreferences:
every match has a fixed length, known before any value is read (so the replacement is
exactly that many ``*``), and the compiled RE2 pattern runs in time linear in the
value. Quotes, backslashes and control characters never occur in a spec, so a spec is
also plain text for every policy engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Annotated

from pydantic import AfterValidator

from catalog.vocabulary import MaskMethod

MAX_SPEC_CHARS = 32  # catalog.models.Field.mask_override is String(32)
MAX_KEEP = 64
MAX_BOUNDS = 8
MAX_STEP = 10**12
MAX_REPEAT = 32
MAX_PATTERN_ITEMS = 16
PATTERN_LITERALS = frozenset("-_./:()+ ")

PARAMETRISED: frozenset[MaskMethod] = frozenset(
    {
        MaskMethod.ROUND,
        MaskMethod.BUCKET,
        MaskMethod.KEEP_FIRST,
        MaskMethod.KEEP_LAST,
        MaskMethod.REPLACE,
    }
)
PLAIN: frozenset[str] = frozenset(m.value for m in MaskMethod if m not in PARAMETRISED)
"""The methods that take no parameter: the only ones a policy may name by itself."""

_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,12})")
PATTERN_CLASSES = {"#": "[0-9]", "@": "[A-Za-z]", "?": "(?s:.)"}


@dataclass(frozen=True, slots=True)
class PatternItem:
    """One character class or literal, repeated exactly ``count`` times."""

    regex: str
    count: int


@dataclass(frozen=True, slots=True)
class MaskSpec:
    """A parsed spec. ``text`` is its canonical form (what the catalog stores)."""

    method: MaskMethod
    text: str
    step: int | None = None
    bounds: tuple[int, ...] = ()
    keep: int | None = None
    pattern: tuple[PatternItem, ...] = ()

    @property
    def regex(self) -> str:
        """The RE2 pattern of a ``replace`` spec."""
        return "".join(f"{i.regex}{{{i.count}}}" if i.count > 1 else i.regex for i in self.pattern)

    @property
    def match_chars(self) -> int:
        """Characters in every match of a ``replace`` pattern."""
        return sum(i.count for i in self.pattern)


@lru_cache(maxsize=1024)
def parse_mask_spec(text: str) -> MaskSpec:
    """The spec ``text`` names; ``ValueError`` saying what is wrong (never echoing it).
    Cached: every masked column of every query parses its method."""
    if not isinstance(text, str) or not text:
        raise ValueError("a mask is a non-empty string")
    if len(text) > MAX_SPEC_CHARS:
        raise ValueError(f"a mask is at most {MAX_SPEC_CHARS} characters")
    name, colon, argument = text.partition(":")
    try:
        method = MaskMethod(name)
    except ValueError:
        raise ValueError("unknown mask method") from None
    if method not in PARAMETRISED:
        if colon:
            raise ValueError(f"mask {method.value} takes no parameter")
        return MaskSpec(method, method.value)
    if not argument:
        raise ValueError(f"mask {method.value} needs a parameter ({method.value}:…)")
    if method is MaskMethod.ROUND:
        step = _integer(argument, "the rounding step")
        if not 1 <= step <= MAX_STEP:
            raise ValueError(f"the rounding step is an integer from 1 to {MAX_STEP}")
        return MaskSpec(method, f"round:{step}", step=step)
    if method is MaskMethod.BUCKET:
        bounds = tuple(_integer(b, "a bucket bound") for b in argument.split(","))
        if len(bounds) > MAX_BOUNDS:
            raise ValueError(f"at most {MAX_BOUNDS} bucket bounds")
        if any(b >= c for b, c in pairwise(bounds)):
            raise ValueError("bucket bounds must be strictly ascending")
        return MaskSpec(method, "bucket:" + ",".join(map(str, bounds)), bounds=bounds)
    if method in (MaskMethod.KEEP_FIRST, MaskMethod.KEEP_LAST):
        keep = _integer(argument, "the number of characters kept")
        if not 1 <= keep <= MAX_KEEP:
            raise ValueError(f"the number of characters kept is from 1 to {MAX_KEEP}")
        return MaskSpec(method, f"{method.value}:{keep}", keep=keep)
    return MaskSpec(method, f"replace:{argument}", pattern=_pattern(argument))


def canonical_mask_spec(text: str) -> str:
    """The canonical form of a valid spec (``round:0100`` is refused, not rewritten:
    the integer grammar has no leading zeros), for pydantic's ``AfterValidator``."""
    return parse_mask_spec(text).text


def is_mask_spec(text: object) -> bool:
    """Whether ``text`` is a valid spec in its canonical form."""
    if not isinstance(text, str):
        return False
    try:
        return parse_mask_spec(text).text == text
    except ValueError:
        return False


_NUMBERS = frozenset({"int64", "float64", "decimal"})
_DATES = frozenset({"date", "timestamp"})
_TEXT = frozenset({"string"})
READS: dict[MaskMethod, frozenset[str]] = {
    MaskMethod.ROUND: _NUMBERS | _TEXT,  # amounts, as numbers or as text
    MaskMethod.BUCKET: _NUMBERS | _TEXT,
    MaskMethod.DATE_MONTH: _DATES | _TEXT,  # dates, as dates or as text
    MaskMethod.DATE_YEAR: _DATES | _TEXT,
    MaskMethod.DATE_SHIFT: _DATES | _TEXT,
    MaskMethod.ID_NUMBER_FPE: _TEXT,
    MaskMethod.KEEP_FIRST: _TEXT,
    MaskMethod.KEEP_LAST: _TEXT,
    MaskMethod.REPLACE: _TEXT,
}
"""The field types (``catalog.vocabulary.FIELD_TYPES``) each of the issue-16 masks is
made for; a method not listed here (``hash``, ``redact``, the category defaults) fits
any field."""


def type_misfit(spec: str, field_type: str) -> str | None:
    """Why the valid spec ``spec`` does not fit a field of ``field_type`` (``None``: it
    fits). Checked when a steward saves an override: ``keep_first:4`` on an amount, or
    ``round:100`` on a date, would mask the value's text form into something nobody
    asked for (a number's digits starred, a date no longer a date); refused, the steward
    chooses a mask made for the column."""
    method = parse_mask_spec(spec).method
    allowed = READS.get(method)
    if allowed is None or field_type in allowed:
        return None
    kinds = ", ".join(sorted(allowed))
    return f"mask {method.value} is for fields of type {kinds}, not {field_type}"


MaskSpecText = Annotated[str, AfterValidator(canonical_mask_spec)]
"""A field's ``mask_override`` as a steward may save it (validated on save)."""


def _integer(text: str, what: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise ValueError(f"{what} is an integer without leading zeros")
    return int(text)


def _pattern(text: str) -> tuple[PatternItem, ...]:
    items: list[PatternItem] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in PATTERN_CLASSES:
            regex = PATTERN_CLASSES[char]
        elif char.isalnum() or char in PATTERN_LITERALS:
            regex = re.escape(char)
        else:
            raise ValueError("a pattern item is #, @, ?, a letter, a digit or one of -_./:()+ ")
        i += 1
        count = 1
        if i < len(text) and text[i] == "{":
            close = text.find("}", i)
            digits = text[i + 1 : close] if close > 0 else ""
            if not digits.isascii() or not digits.isdigit() or digits.startswith("0"):
                raise ValueError("a repeat is {n} with n from 1 to 32")
            count = int(digits)
            if count > MAX_REPEAT:
                raise ValueError("a repeat is {n} with n from 1 to 32")
            i = close + 1
        items.append(PatternItem(regex, count))
    if not items or len(items) > MAX_PATTERN_ITEMS:
        raise ValueError(f"a pattern has 1 to {MAX_PATTERN_ITEMS} items")
    return tuple(items)
