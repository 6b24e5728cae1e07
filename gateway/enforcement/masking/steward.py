"""Steward-defined masks: ``keep_first:n``, ``keep_last:n`` and ``replace:<pattern>``
(grammar and limits in ``catalog.mask_specs``, which refused anything else on save).

Why a small vocabulary and not a steward's own regex: the mask runs on every value of
every query, so it must be cheap and unable to leak by mistake. Each of these is a
couple of Arrow kernels on UTF-8 text, characters counted as code points:

- ``keep_first:n`` / ``keep_last:n`` keep ``n`` characters and put one ``*`` for each
  other one. A value of ``n`` characters or fewer is masked whole — kept, it would be
  passed through entire.
- ``replace:<pattern>`` puts one ``*`` per character over every match, left to right,
  matches not overlapping. A pattern's matches all have the same length (no open
  repetition), so the replacement is a fixed run of stars and RE2 (linear time) does
  the whole column in one kernel. It fails closed: a value in which the pattern finds
  nothing is not what the steward described (a card number typed with other
  separators, a stray note), so it is replaced whole by ``NO_MATCH`` (``***``, a fixed
  text: not even its length shows) — passed through unchanged, it would leak exactly
  the values the mask was written for.

Non-text columns are masked in their canonical text form (``123``, ``2024-05-04``) and
come back as text, like the other partial masks; nulls stay null, ``""`` stays ``""``.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from catalog.mask_specs import PATTERN_CLASSES, MaskSpec
from gateway.enforcement.masking.kernels import STAR, join, stars

NO_MATCH = "***"  # what ``replace`` gives a value its pattern finds nothing in
ANY = PATTERN_CLASSES["?"]  # the one pattern item that matches ``*``


def _empty(values: pa.Array) -> pa.Scalar:
    return pa.scalar("", values.type)


def keep_first(values: pa.Array, keep: int) -> pa.Array:
    """The first ``keep`` characters, then one ``*`` per character."""
    length = pc.utf8_length(values)
    head = pc.utf8_slice_codeunits(values, 0, keep)
    kept = pc.if_else(pc.greater(length, keep), head, _empty(values))
    hidden = pc.subtract(length, pc.utf8_length(kept))
    return join(values.type, kept, stars(hidden))


def keep_last(values: pa.Array, keep: int) -> pa.Array:
    """One ``*`` per character, then the last ``keep`` characters."""
    length = pc.utf8_length(values)
    tail = pc.utf8_slice_codeunits(values, -keep)
    kept = pc.if_else(pc.greater(length, keep), tail, _empty(values))
    hidden = pc.subtract(length, pc.utf8_length(kept))
    return join(values.type, stars(hidden), kept)


def replace_pattern(values: pa.Array, spec: MaskSpec) -> pa.Array:
    """Every match of the spec's pattern as that many ``*``; a value without a match
    as ``NO_MATCH`` (``""`` stays ``""``: it holds nothing to leak)."""
    if not spec.pattern:
        raise ValueError("a replace mask needs a pattern")
    replaced = pc.replace_substring_regex(
        values, pattern=spec.regex, replacement=STAR * spec.match_chars
    )
    if any(item.regex != ANY for item in spec.pattern):
        # every match holds a character that is not ``*`` (a digit, a letter, a literal),
        # which the replacement stars: a value changed exactly where the pattern found
        # something, and one comparison replaces a second pass of RE2 over the column
        found = pc.not_equal(replaced, values)
    else:  # ``?`` alone matches ``*`` too: a value of stars is unchanged yet matched
        found = pc.match_substring_regex(values, spec.regex)
    found = pc.or_(found, pc.equal(pc.binary_length(values), 0))
    return pc.if_else(found, replaced, pa.scalar(NO_MATCH, values.type))


def steward_mask(values: pa.Array, spec: MaskSpec) -> pa.Array:
    """The steward-defined mask ``spec`` on a UTF-8 string array."""
    if spec.keep is not None and spec.method == "keep_first":
        return keep_first(values, spec.keep)
    if spec.keep is not None and spec.method == "keep_last":
        return keep_last(values, spec.keep)
    if spec.method == "replace":
        return replace_pattern(values, spec)
    raise ValueError(f"{spec.method.value} is not a steward-defined mask")
