"""Amounts, coarsened: ``round:<step>`` (to the nearest multiple, half away from zero)
and ``bucket:<b1>,…,<bk>`` (into the ranges ``<b1``, ``[b1,b2)``, …, ``>=bk``).

Why these two: an analyst comparing allowances or salaries needs their size, rarely
their exact value, and an exact amount is a quasi-identifier (one recipient at
1,237.40 a month). Rounding keeps arithmetic (sums, averages) roughly right and the
column numeric; buckets keep only the order of magnitude a steward thinks is enough.

Types: numbers stay numbers under ``round`` — integers come back as ``int64`` (a
narrow type might not hold the rounded value), ``decimal128`` at precision 38 and the
same scale, floats as they were (NaN and infinities stay what they are: they carry no
amount). Amounts held as text are read when they are plain decimal numbers
(``-12``, ``1234.50``, at most 15 digits each side of the point); any other text is
masked whole (one ``*`` per character), never passed through, and the column stays
text. A column of another type (a date, a boolean: a steward's mistake) is read as its
text, so its values are masked whole rather than failing every query. ``bucket``
always gives text labels; NaN has no bucket and becomes null, non-numeric text is
masked whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from itertools import pairwise

import pyarrow as pa
import pyarrow.compute as pc

from gateway.enforcement.masking.kernels import as_text, compose, whole

ROUND_MODE = "half_towards_infinity"
NUMBER_TEXT = r"^-?[0-9]{1,15}(?:\.[0-9]{1,15})?$"


def _contiguous(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One array: numbers as they are, anything else as text."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return values
    return as_text(values)


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _numeric(values: pa.Array) -> pa.Array:
    """Integers as ``int64``/``uint64``, decimals widened, floats as they are."""
    kind = values.type
    if pa.types.is_unsigned_integer(kind):
        return values.cast(pa.uint64())
    if pa.types.is_integer(kind):
        return values.cast(pa.int64())
    if pa.types.is_decimal128(kind):
        return values.cast(pa.decimal128(38, kind.scale))
    if pa.types.is_decimal(kind) or pa.types.is_floating(kind):
        return values
    raise ValueError(f"amount masks take numbers or numbers as text, not {kind}")


def _round_numbers(values: pa.Array, step: int) -> pa.Array:
    numbers = _numeric(values)
    multiple: pa.Scalar | int = step
    if pa.types.is_decimal(numbers.type):
        multiple = pa.scalar(Decimal(step), numbers.type)
    return pc.round_to_multiple(numbers, multiple=multiple, round_mode=ROUND_MODE)


def _text_numbers(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Which text values are plain decimal numbers (null for null), and those values as
    ``float64`` (null elsewhere)."""
    ok = pc.match_substring_regex(values, NUMBER_TEXT)
    usable = pc.fill_null(ok, False)
    parsed = pc.replace_with_mask(
        pa.nulls(len(values), pa.float64()), usable, pc.filter(values, usable).cast(pa.float64())
    )
    return ok, parsed


def round_to_step(values: pa.Array | pa.ChunkedArray, step: int) -> pa.Array:
    """Each amount to the nearest multiple of ``step``; nulls stay null."""
    values = _contiguous(values)
    if not _is_text(values.type):
        return _round_numbers(values, step)
    ok, parsed = _text_numbers(values)
    rounded = _round_numbers(parsed, step).cast(pa.int64()).cast(values.type)
    return compose(values, ok, rounded, slow=None, malformed=whole)


def bucket_labels(bounds: Sequence[int]) -> list[str]:
    """``<b1``, ``[b1,b2)``, …, ``>=bk``: lower bounds included, upper bounds excluded."""
    middle = [f"[{low},{high})" for low, high in pairwise(bounds)]
    return [f"<{bounds[0]}", *middle, f">={bounds[-1]}"]


def _bucket_numbers(numbers: pa.Array, bounds: Sequence[int], text: pa.DataType) -> pa.Array:
    """Index of each value's range = how many bounds it reaches, then its label.

    The index is counted in the narrowest integer type that holds it (``int8`` for
    any spec: at most ``MAX_BOUNDS`` bounds), starting from the first comparison, and
    NaN is looked for only in floats and turned into null only where there is one:
    each of those is a pass over the column (``bench.masking_bench``, ``bucket``)."""
    if not bounds:
        raise ValueError("a bucket mask needs at least one bound")
    numbers = _numeric(numbers)
    decimal = pa.types.is_decimal(numbers.type)
    counter = pa.int8() if len(bounds) < 2**7 else pa.int32()
    index: pa.Array | None = None
    for bound in bounds:
        scalar = pa.scalar(Decimal(bound), numbers.type) if decimal else bound
        reached = pc.greater_equal(numbers, scalar).cast(counter)
        index = reached if index is None else pc.add(index, reached)
    if pa.types.is_floating(numbers.type):
        nan = pc.is_nan(numbers)
        if pc.any(nan).as_py():
            index = pc.if_else(nan, pa.scalar(None, counter), index)
    return pc.take(pa.array(bucket_labels(bounds), text), index)


def bucket(values: pa.Array | pa.ChunkedArray, bounds: Sequence[int]) -> pa.Array:
    """Each amount's range label (text); nulls and NaN stay null."""
    if not bounds:
        raise ValueError("a bucket mask needs at least one bound")
    values = _contiguous(values)
    if not _is_text(values.type):
        return _bucket_numbers(values, bounds, pa.string())
    ok, parsed = _text_numbers(values)
    labels = _bucket_numbers(parsed, bounds, values.type)
    return compose(values, ok, labels, slow=None, malformed=whole)
