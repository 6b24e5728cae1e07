"""What counts as a case reference: text with at least one visible character.

A case reference ties every read of sensitive data to a case on the trail, keys the
case's tokens, and its absence is what policy refuses for L3/L4 entries and what the
``missing_case_reference`` alert looks for. Text of spaces, tabs, line breaks, the
ideographic or no-break space or zero-width characters names no case, yet it passed
both as present (red team 20): it is read as missing here, at the edge, by every schema
that takes one. A real reference is kept exactly as typed (its tokens are keyed by it).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# separators (Z*), controls (Cc) and format characters (Cf: zero-width, bidi marks)
_INVISIBLE = ("Z", "Cc", "Cf")


def names_nothing(value: str) -> bool:
    """Whether ``value`` has no visible character."""
    return all(unicodedata.category(c).startswith(_INVISIBLE) for c in value)


def blank_if_invisible(value: str) -> str:
    """A query's case reference (optional): one that names nothing is missing ("")."""
    return "" if names_nothing(value) else value


def required_case_ref(value: str) -> str:
    """A case reference that must be given: one that names nothing is refused."""
    if names_nothing(value):
        raise ValueError("a case reference must name a case (it has no visible character)")
    return value


RequiredCaseRef = Annotated[str, AfterValidator(required_case_ref)]
"""A schema field's type for a case reference that must be given."""
