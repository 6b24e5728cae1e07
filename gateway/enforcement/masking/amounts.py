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

import array
import importlib
from collections.abc import Sequence
from decimal import Decimal
from itertools import pairwise
from types import ModuleType

import pyarrow as pa
import pyarrow.compute as pc

from gateway.enforcement.masking.kernels import as_text, compose, whole

_kernel: ModuleType | None
try:
    _kernel = importlib.import_module("gateway.enforcement.masking._amount_masks")
except ImportError:  # built optionally: the vectorised bucket does everything
    _kernel = None
_NATIVE_KINDS = {pa.float64(): 0, pa.int64(): 1}
_LABEL_MAX = 32  # the kernel's SLOT: any label the grammar allows (31 bytes at most)

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
    native = _native_bucket(numbers, bounds, text)
    if native is not None:
        return native
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


def native_available() -> bool:
    return _kernel is not None


def _native_bucket(numbers: pa.Array, bounds: Sequence[int], text: pa.DataType) -> pa.Array | None:
    """``_bucket_numbers`` by the native kernel (``_amount_masks.c``: one pass, where
    the vectorised version makes some 40, most in ``take`` building the labels), for
    ``float64`` and ``int64``; None where it does not apply (no kernel, another type,
    labels past 32-bit offsets): the vectorised version then answers."""
    kind = _NATIVE_KINDS.get(numbers.type)
    labels = [label.encode() for label in bucket_labels(bounds)]
    if _kernel is None or kind is None or max(map(len, labels)) > _LABEL_MAX:
        return None
    label_offsets = [0]
    for label in labels:
        label_offsets.append(label_offsets[-1] + len(label))
    wide = pa.types.is_large_string(text)
    validity, data = numbers.buffers()
    args = (kind, data if data is not None else b"", numbers.offset, len(numbers),
            validity if numbers.null_count else None, array.array("q", bounds).tobytes(),
            array.array("q", label_offsets).tobytes())  # fmt: skip
    count = len(numbers)
    # from Arrow's pool, whose pages are reused (fresh ones from malloc cost a page fault
    # each, as much again as the kernel); room for the longest label in every slot and
    # _LABEL_MAX bytes of slack, cut to what was written (in place: mimalloc's realloc)
    offsets = pa.allocate_buffer((count + 1) * (8 if wide else 4))
    chars = pa.allocate_buffer(count * max(map(len, labels)) + _LABEL_MAX, resizable=True)
    valid = pa.allocate_buffer((count + 7) // 8)
    written = _kernel.bucket(*args, b"".join(labels), wide, offsets, chars, valid)
    if written is None:
        return None  # past 32-bit offsets
    size, nulls = written
    chars.resize(size, shrink_to_fit=True)
    buffers = [valid if nulls else None, offsets, chars]
    return pa.Array.from_buffers(text, count, buffers, null_count=nulls)


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
