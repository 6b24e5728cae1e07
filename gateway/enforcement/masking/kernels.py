"""Vectorised building blocks shared by the masks (pyarrow.compute only, no per-cell
Python): normalising input to UTF-8 strings, runs of ``*``, and the fast-path / slow-path
composition every partial mask uses.

A partial mask is written as a *fast path* for the common shape (pure length and
digit tests plus byte-slice replacement: a few milliseconds per million values) and a
*slow path* (RE2 regex extraction) run only on the rows the fast path did not accept.
Whatever neither accepts is malformed and is masked whole — never passed through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

STAR = "*"


def as_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous ``string`` (or ``large_string``) array of the input's text form."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    if pa.types.is_large_binary(values.type):
        return values.cast(pa.large_string())  # validates UTF-8: invalid input raises
    return values.cast(pa.string())


DISTINCT_FROM = 4096
"""Arrays from this length are masked once per distinct value (``per_distinct``); a
small query's page goes straight through (encoding it would cost more than it saves)."""


def per_distinct(values: pa.Array, mask: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``mask(values)``, computed once per distinct value and spread back (``take``),
    for a mask whose answer depends on the value alone. A column of dates holds few (a
    century is 36,525 days): ``date_month`` parsed and printed every row, 27 plain
    ``pyarrow.compute`` passes a million dates in issue 17's bench (the bar is 20)."""
    if len(values) < DISTINCT_FROM:
        return mask(values)
    encoded = pc.dictionary_encode(values)  # a null value gets a null index
    return pc.take(mask(encoded.dictionary), encoded.indices)


def stars(lengths: pa.Array) -> pa.Array:
    """``'*' * n`` for each ``n`` (null stays null)."""
    return pc.binary_repeat(STAR, lengths)


def whole(values: pa.Array) -> pa.Array:
    """Every character replaced by ``*`` (the mask for a malformed value)."""
    return stars(pc.utf8_length(values)).cast(values.type)


def join(text_type: pa.DataType, *parts: pa.Array | str) -> pa.Array:
    """Concatenate row by row; every part is brought to ``text_type`` first."""
    typed = [pa.scalar(p, text_type) if isinstance(p, str) else p.cast(text_type) for p in parts]
    return pc.binary_join_element_wise(*typed, pa.scalar("", text_type))


def replace_by_length(
    values: pa.Array,
    byte_len: pa.Array,
    ok: pa.Array,
    start: int,
    stop: int,
    hidden: Callable[[int], int],
) -> pa.Array:
    """Replace bytes ``[start, stop)`` with ``hidden(len)`` stars, for each byte length
    present among the ``ok`` rows (a handful: 15/18 for ID numbers, 16/19 for cards).

    Only meaningful on ``ok`` rows, which must be ASCII; other rows hold garbage that
    ``compose`` replaces.
    """
    lengths = pc.unique(pc.filter(byte_len, ok)).to_pylist()
    if not lengths:
        return values
    first, *others = sorted(lengths)
    result = pc.binary_replace_slice(values, start, stop, STAR * hidden(first))
    for length in others:
        masked = pc.binary_replace_slice(values, start, stop, STAR * hidden(length))
        result = pc.if_else(pc.equal(byte_len, length), masked, result)
    return result


def extract_masked(values: pa.Array, patterns: Sequence[str]) -> pa.Array:
    """Slow path: the first pattern with groups ``head``/``hide``/``tail`` that matches
    gives ``head + '*' * len(hide) + tail``; null where none matches."""
    result = pa.nulls(len(values), values.type)
    for pattern in patterns:
        groups = pc.extract_regex(values, pattern)
        names = {groups.type.field(i).name for i in range(groups.type.num_fields)}
        head = pc.struct_field(groups, "head")
        hidden = stars(pc.utf8_length(pc.struct_field(groups, "hide")))
        tail = pc.struct_field(groups, "tail") if "tail" in names else ""
        result = pc.coalesce(result, join(values.type, head, hidden, tail))
    return result


def compose(
    values: pa.Array,
    ok: pa.Array,
    masked: pa.Array,
    slow: Callable[[pa.Array], pa.Array] | None,
    malformed: Callable[[pa.Array], pa.Array] = whole,
) -> pa.Array:
    """Fast-path result where ``ok``; elsewhere the slow path, else ``malformed``.

    ``ok`` must be null exactly where ``values`` is null, so nulls stay null.
    """
    masked = masked.cast(values.type)
    rest = pc.invert(ok)
    if not pc.any(rest).as_py():
        return masked  # every kernel of a fast path propagates nulls
    subset = pc.filter(values, rest)
    repaired = slow(subset) if slow is not None else pa.nulls(len(subset), values.type)
    repaired = pc.coalesce(repaired, malformed(subset))
    return pc.replace_with_mask(masked, rest, repaired)
