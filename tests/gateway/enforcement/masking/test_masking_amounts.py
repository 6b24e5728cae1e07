"""``round:<step>`` and ``bucket:<bounds>`` against plain Python references, on any
integers, floats, decimals and numbers as text (hypothesis)."""

from __future__ import annotations

import math
from bisect import bisect_right
from decimal import Decimal

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.enforcement.masking import mask_array
from gateway.enforcement.masking.amounts import bucket_labels

FAST = settings(max_examples=80, deadline=None)
STEPS = st.integers(1, 10**6)
# a spec is at most 32 characters (the mask_override column): bounds that fit
BOUNDS = (
    st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=8, unique=True)
    .map(sorted)
    .filter(lambda b: len("bucket:" + ",".join(map(str, b))) <= 32)
)


def round_half_away(value: int, step: int) -> int:
    quotient, rest = divmod(abs(value), step)
    rounded = quotient * step + (step if 2 * rest >= step else 0)
    return rounded if value >= 0 else -rounded


@FAST
@given(st.lists(st.one_of(st.none(), st.integers(-(10**15), 10**15)), max_size=40), STEPS)
def test_round_integers_is_half_away_from_zero(values: list[int | None], step: int) -> None:
    out = mask_array(pa.array(values, pa.int64()), f"round:{step}")
    assert out.type == pa.int64()
    assert out.to_pylist() == [None if v is None else round_half_away(v, step) for v in values]


@FAST
@given(st.lists(st.integers(-128, 127), min_size=1, max_size=20), st.integers(100, 10**4))
def test_round_narrow_integers_widen_instead_of_overflowing(values: list[int], step: int) -> None:
    out = mask_array(pa.array(values, pa.int8()), f"round:{step}")
    assert out.type == pa.int64()
    assert out.to_pylist() == [round_half_away(v, step) for v in values]


@FAST
@given(st.lists(st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False), max_size=40), STEPS)
def test_round_floats_to_a_multiple_within_half_a_step(values: list[float], step: int) -> None:
    out = mask_array(pa.array(values, pa.float64()), f"round:{step}").to_pylist()
    for value, rounded in zip(values, out, strict=True):
        assert rounded / step == round(rounded / step)
        assert abs(rounded - value) <= step / 2 + 1e-6 * max(1.0, abs(value))


def test_round_keeps_nan_decimals_and_text_shapes() -> None:
    out = mask_array(pa.array([float("nan"), None, float("inf")]), "round:10").to_pylist()
    assert math.isnan(out[0]) and out[1:] == [None, float("inf")]
    amounts = pa.array([Decimal("999.99"), Decimal("-0.50")], pa.decimal128(5, 2))
    rounded = mask_array(amounts, "round:1000")
    assert rounded.type == pa.decimal128(38, 2)
    assert rounded.to_pylist() == [Decimal("1000.00"), Decimal("0.00")]


@FAST
@given(st.lists(st.decimals(-(10**9), 10**9, places=2, allow_nan=False), max_size=30), STEPS)
def test_round_numbers_as_text_stay_text(values: list[Decimal], step: int) -> None:
    texts = [str(v) for v in values]
    out = mask_array(pa.array(texts, pa.string()), f"round:{step}").to_pylist()
    for value, rounded in zip(values, out, strict=True):
        assert rounded is not None and rounded.lstrip("-").isdigit()
        assert int(rounded) % step == 0 and abs(Decimal(rounded) - value) <= Decimal(step) / 2


@FAST
@given(st.lists(st.text(max_size=20), max_size=30))
def test_text_that_is_no_plain_number_is_masked_whole(values: list[str]) -> None:
    for spec in ("round:100", "bucket:0,100"):
        out = mask_array(pa.array(values, pa.string()), spec).to_pylist()
        for value, masked in zip(values, out, strict=True):
            body = value[1:] if value.startswith("-") else value
            plain = all(part.isascii() and part.isdigit() for part in body.split(".", 1))
            if not (plain and 1 <= len(body.split(".", 1)[0]) <= 15) or body.endswith("."):
                assert masked == "*" * len(value)


@FAST
@given(
    st.lists(
        st.one_of(st.none(), st.floats(-2e6, 2e6, allow_nan=False), st.just(float("nan"))),
        max_size=40,
    ),
    BOUNDS,
)
def test_bucket_floats_by_bisection(values: list[float | None], bounds: list[int]) -> None:
    labels = bucket_labels(bounds)
    out = mask_array(pa.array(values, pa.float64()), "bucket:" + ",".join(map(str, bounds)))
    assert out.type == pa.string()
    expected = [
        None if v is None or math.isnan(v) else labels[bisect_right(bounds, v)] for v in values
    ]
    assert out.to_pylist() == expected


@FAST
@given(st.lists(st.integers(-(2**40), 2**40), max_size=40), BOUNDS)
def test_bucket_integers_and_their_text_agree(values: list[int], bounds: list[int]) -> None:
    spec = "bucket:" + ",".join(map(str, bounds))
    labels = bucket_labels(bounds)
    expected = [labels[bisect_right(bounds, v)] for v in values]
    assert mask_array(pa.array(values, pa.int64()), spec).to_pylist() == expected
    as_text = pa.array([str(v) for v in values], pa.large_string())
    out = mask_array(as_text, spec)
    assert out.type == pa.large_string() and out.to_pylist() == expected


@FAST
@given(
    st.lists(st.one_of(st.none(), st.decimals(-(10**7), 10**7, places=2, allow_nan=False)),
             max_size=40),
    BOUNDS,
)  # fmt: skip
def test_bucket_decimals_by_bisection(values: list[Decimal | None], bounds: list[int]) -> None:
    labels = bucket_labels(bounds)
    out = mask_array(pa.array(values, pa.decimal128(12, 2)), "bucket:" + ",".join(map(str, bounds)))
    assert out.type == pa.string()
    expected = [None if v is None else labels[bisect_right(bounds, v)] for v in values]
    assert out.to_pylist() == expected


def test_bucket_nan_is_null_wherever_it_is() -> None:
    """NaN has no range: null, alone, among numbers, beside nulls, in a long column."""
    nan = float("nan")
    for values, want in [
        ([nan], [None]),
        ([1.0, nan, 700.0, None, 5000.0], ["<500", None, "[500,1000)", None, ">=2000"]),
        ([None, 999.99, 1000.0, 2000.0], [None, "[500,1000)", "[1000,2000)", ">=2000"]),
        ([600.0] * 9_999 + [nan], ["[500,1000)"] * 9_999 + [None]),
    ]:
        out = mask_array(pa.array(values, pa.float64()), "bucket:500,1000,2000", small_max=0)
        assert out.to_pylist() == want


def test_bucket_labels_name_every_range_once() -> None:
    assert bucket_labels([0, 500, 5000]) == ["<0", "[0,500)", "[500,5000)", ">=5000"]
    assert bucket_labels([7]) == ["<7", ">=7"]


def test_other_types_are_masked_whole_not_failed() -> None:
    """A steward who put an amount mask on a boolean or a date gets stars, not a 500."""
    flags = mask_array(pa.array([True, None]), "round:10").to_pylist()
    assert flags == ["****", None]
    days = mask_array(pa.array([0], pa.date32()), "bucket:5").to_pylist()
    assert days == ["**********"]
