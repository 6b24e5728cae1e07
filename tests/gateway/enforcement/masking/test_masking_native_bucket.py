"""The ``bucket`` mask's native kernel (``_amount_masks.c``) against the vectorised
version (the reference), buffer for buffer: floats with NaN, infinities, ``-0.0`` and
values on and beside every bound, the whole int64 range, nulls, slices, chunked and
empty arrays, labels as ``string`` and ``large_string`` (numbers held as text); then
the kernel on buffers of exactly the size its arguments need (``make sanitize`` reports
a read or write past them) and its refusal of arguments that do not fit."""

from __future__ import annotations

import array
import math
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.enforcement.masking import amounts, mask_array
from gateway.enforcement.masking.amounts import bucket_labels

FAST = settings(max_examples=150, deadline=None)
BOUNDS = st.lists(st.integers(-(10**13) + 1, 10**13 - 1), min_size=1, max_size=8, unique=True).map(
    sorted
)
SPECS = ((500, 1000, 2000), (0,), (-(10**13) + 1, -1, 0, 1, 10**12, 10**13 - 1))


@contextmanager
def vectorised() -> Iterator[None]:
    """The reference: ``bucket`` with the kernel switched off."""
    kernel, amounts._kernel = amounts._kernel, None
    try:
        yield
    finally:
        amounts._kernel = kernel


def reference(values: pa.Array, bounds: tuple[int, ...], text: pa.DataType) -> pa.Array:
    with vectorised():
        return amounts._bucket_numbers(values, bounds, text)


def assert_same(got: pa.Array, want: pa.Array) -> None:
    """Equal values and nulls, and the very same offsets and label bytes."""
    assert got.type == want.type
    assert got.null_count == want.null_count
    assert got.equals(want)
    assert got.buffers()[1] == want.buffers()[1]
    assert got.buffers()[2] == want.buffers()[2]


def near(bounds: list[int]) -> list[float]:
    """Each bound, the doubles either side of it and the integers either side."""
    out: list[float] = []
    for b in bounds:
        out += [float(b), math.nextafter(b, -math.inf), math.nextafter(b, math.inf), b - 1, b + 1]
    return out


FLOATS = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64))


@FAST
@given(st.lists(FLOATS, max_size=60), BOUNDS, st.booleans())
def test_floats_as_the_vectorised_bucket(values: list[float | None], bounds: list[int],
                                         wide: bool) -> None:  # fmt: skip
    assert amounts.native_available()
    arr = pa.array(values + near(bounds) + [-0.0, 0.0], pa.float64())
    text = pa.large_string() if wide else pa.string()
    got = amounts._bucket_numbers(arr, tuple(bounds), text)
    assert_same(got, reference(arr, tuple(bounds), text))


INTS = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.integers(-(10**13), 10**13))


@FAST
@given(st.lists(INTS, max_size=60), BOUNDS)
def test_integers_as_the_vectorised_bucket(values: list[int | None], bounds: list[int]) -> None:
    edges = [b + d for b in bounds for d in (-1, 0, 1)] + [-(2**63), 2**63 - 1]
    arr = pa.array(values + edges, pa.int64())
    assert_same(amounts._bucket_numbers(arr, tuple(bounds), pa.string()),
                reference(arr, tuple(bounds), pa.string()))  # fmt: skip


@FAST
@given(st.lists(FLOATS, min_size=1, max_size=80), st.data())
def test_slices_start_at_the_slice(values: list[float | None], data: st.DataObject) -> None:
    arr = pa.array(values, pa.float64())
    start = data.draw(st.integers(0, len(values)))
    part = arr.slice(start, data.draw(st.integers(0, len(values) - start)))
    for bounds in SPECS:
        assert_same(amounts._bucket_numbers(part, bounds, pa.string()),
                    reference(part, bounds, pa.string()))  # fmt: skip


def test_empty_all_null_and_chunked_columns() -> None:
    spec = "bucket:500,1000,2000"
    cases = [
        pa.array([], pa.float64()),
        pa.array([], pa.int64()),
        pa.array([None, None, None], pa.float64()),
        pa.array([float("nan")] * 9, pa.float64()),
        pa.chunked_array([[1.0, None, 700.0], [], [float("nan"), 2000.0]], pa.float64()),
        pa.chunked_array([[5, 1500]], pa.int64()),
        pa.chunked_array([], pa.float64()),
        pa.array([499, 500, 999, 1000, 1999, 2000, None], pa.int32()),  # widened to int64
    ]
    for values in cases:
        got = mask_array(values, spec)
        with vectorised():
            want = mask_array(values, spec)
        assert_same(got, want)
    assert mask_array(cases[4], spec).to_pylist() == ["<500", None, "[500,1000)", None, ">=2000"]


def test_numbers_as_text_keep_their_text_type() -> None:
    for kind in (pa.string(), pa.large_string()):
        values = pa.array(["499.99", "500", None, "1999.5", "-3", "n/a", "2000", "", "１２３",
                           "五百"], kind)  # fmt: skip
        got = mask_array(values, "bucket:500,1000,2000")
        with vectorised():
            want = mask_array(values, "bucket:500,1000,2000")
        assert got.type == kind and got.equals(want)
        assert got.to_pylist() == ["<500", "[500,1000)", None, "[1000,2000)", "<500", "***",
                                   ">=2000", "", "***", "**"]  # fmt: skip


def test_the_longest_labels_go_through_the_kernel() -> None:
    """The longest labels the grammar allows (31 bytes) go through the kernel too."""
    bounds = (-(10**13) + 1, -(10**13) + 2)
    labels = bucket_labels(bounds)
    assert max(len(label) for label in labels) == 31
    arr = pa.array([-(10**13), -(10**13) + 1, 0.5, None] * 50, pa.float64())
    assert_same(amounts._bucket_numbers(arr, bounds, pa.string()),
                reference(arr, bounds, pa.string()))  # fmt: skip


def test_other_numeric_types_keep_the_vectorised_path() -> None:
    """float32, uint64 and decimals are not the kernel's: same answers either way."""
    for values in (pa.array([1.5, 600.0, None], pa.float32()),
                   pa.array([0, 600, 2**40], pa.uint64()),
                   pa.array([None, 1], pa.decimal128(5, 1))):  # fmt: skip
        got = mask_array(values, "bucket:500,1000")
        with vectorised():
            assert got.equals(mask_array(values, "bucket:500,1000"))


# -- the kernel itself, on exact buffers ------------------------------------------------


def _args(values: pa.Array, bounds: tuple[int, ...], first: int, count: int) -> tuple:
    """The kernel's arguments with every input cut to the last byte it may read."""
    kind = 0 if values.type == pa.float64() else 1
    validity, data = values.buffers()
    start = values.offset + first
    raw = data.to_pybytes()[: (start + count) * 8]
    bits = None
    if values.null_count:
        bits = validity.to_pybytes()[: (start + count + 7) // 8]
    labels = [label.encode() for label in bucket_labels(bounds)]
    offsets = [0]
    for label in labels:
        offsets.append(offsets[-1] + len(label))
    return (kind, raw, start, count, bits, array.array("q", bounds).tobytes(),
            array.array("q", offsets).tobytes(), b"".join(labels))  # fmt: skip


def _outputs(count: int, longest: int, wide: bool = False) -> tuple[bytearray, ...]:
    return (bytearray((count + 1) * (8 if wide else 4)), bytearray(count * longest + 32),
            bytearray((count + 7) // 8))  # fmt: skip


@pytest.mark.parametrize("kind", [pa.float64(), pa.int64()])
def test_kernel_reads_and_writes_nothing_past_exact_buffers(kind: pa.DataType) -> None:
    kernel = amounts._kernel
    assert kernel is not None
    values = pa.array([1, None, 500, 2500, 999, None, 1000, 7, 2000], kind)
    bounds = (500, 1000, 2000)
    longest = max(len(label) for label in bucket_labels(bounds))
    for arr in (values, values.slice(1), values.slice(3, 5)):
        for first, count in ((0, len(arr)), (1, len(arr) - 1), (0, 1), (len(arr), 0)):
            for wide in (False, True):
                outs = _outputs(count, longest, wide)
                size, nulls = kernel.bucket(*_args(arr, bounds, first, count), wide, *outs)
                want = reference(arr.slice(first, count), bounds,
                                 pa.large_string() if wide else pa.string())  # fmt: skip
                assert nulls == want.null_count
                assert bytes(outs[0]) == want.buffers()[1].to_pybytes()[: len(outs[0])]
                assert bytes(outs[1][:size]) == want.buffers()[2].to_pybytes()[:size]


def test_kernel_refuses_arguments_that_do_not_fit() -> None:
    kernel = amounts._kernel
    assert kernel is not None
    values = pa.array([1.0, 600.0, None, 3000.0])
    kind, raw, first, count, bits, bounds, offsets, labels = _args(values, (500,), 0, 4)
    outs = _outputs(4, 5)

    def call(*changed: tuple[int, object], out: tuple = outs) -> None:
        args = [kind, raw, first, count, bits, bounds, offsets, labels]
        for index, value in changed:
            args[index] = value
        kernel.bucket(*args, False, *out)

    call()  # as given: fine
    refused = [
        ((0, 2),),  # no such kind
        ((2, 1),),  # values past the buffer
        ((3, 5),),  # more values than the buffer holds
        ((3, -1),),
        ((2, -1),),
        ((4, bits[:0] if bits else b""),),  # validity shorter than the values
        ((5, b""),),  # no bound
        ((5, array.array("q", range(9)).tobytes()),),  # more than MAX_BOUNDS
        ((5, b"\0" * 7),),  # not whole int64s
        ((6, array.array("q", [0, 4]).tobytes()),),  # offsets of one label for two
        ((6, array.array("q", [1, 4, 9]).tobytes()),),  # not from 0
        ((6, array.array("q", [0, 9, 4]).tobytes()),),  # shrinking
        ((6, array.array("q", [0, 4, 99]).tobytes()),),  # past the labels
        ((6, array.array("q", [0, 4, 40]).tobytes()), (7, b"x" * 40)),  # a label > 32 bytes
    ]
    for changed in refused:
        with pytest.raises(ValueError):
            call(*changed)
    for short in ((bytearray(16), outs[1], outs[2]), (outs[0], bytearray(4 * 5 + 31), outs[2]),
                  (outs[0], outs[1], bytearray(0))):  # fmt: skip
        with pytest.raises(ValueError):
            call(out=short)
    with pytest.raises(TypeError):  # outputs must be writable
        kernel.bucket(kind, raw, first, count, bits, bounds, offsets, labels, False,
                      bytes(outs[0]), outs[1], outs[2])  # fmt: skip
