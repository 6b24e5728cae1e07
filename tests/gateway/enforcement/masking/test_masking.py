"""Masking: the shared expected vectors, plus properties (hypothesis) that hold for any
input: hidden digits never leak, nulls stay null, malformed values never pass through,
tokens line up within a case and differ across cases, other columns are untouched."""

from __future__ import annotations

import datetime
import json
import stat
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.enforcement.masking import (
    derive_case_key,
    hash_token,
    load_mask_secret,
    mask_array,
    mask_batch,
)
from gateway.enforcement.masking.address import address_by_pattern, address_district

# a copy of ../shared/testdata/masking_vectors.json, so a clean clone can run this
VECTORS_PATH = Path(__file__).parent / "data" / "masking_vectors.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
CASES = [
    (method, raw, expected)
    for method, cases in VECTORS.items()
    if method not in ("about", "notes")
    for raw, expected in cases
]
KEY = derive_case_key(b"k" * 32, "case-A")
FAST = settings(max_examples=60, deadline=None)


@pytest.mark.parametrize(("method", "raw", "expected"), CASES)
def test_vector(method: str, raw: str | None, expected: str | None) -> None:
    out = mask_array(pa.array([raw], pa.string()), method)
    out.validate(full=True)
    assert out.to_pylist() == [expected]


@pytest.mark.parametrize("method", sorted({m for m, _, _ in CASES}))
def test_vectors_as_one_chunked_column(method: str) -> None:
    """The same vectors in one multi-chunk column give the same answers, row for row."""
    cases = [(raw, exp) for m, raw, exp in CASES if m == method]
    raws = [raw for raw, _ in cases]
    chunked = pa.chunked_array([pa.array(raws[:2], pa.string()), pa.array(raws[2:], pa.string())])
    assert mask_array(chunked, method).to_pylist() == [exp for _, exp in cases]


@FAST
@given(
    st.lists(st.text(alphabet="0123456789", min_size=17, max_size=17), min_size=1, max_size=20),
    st.sampled_from("0123456789Xx"),
)
def test_id_number_middle_never_leaks(prefixes: list[str], last: str) -> None:
    values = [p + last for p in prefixes] + [p[:15] for p in prefixes]
    out = mask_array(pa.array(values), "id_number_partial").to_pylist()
    for value, masked in zip(values, out, strict=True):
        hidden = value[6:-4]
        assert masked == value[:6] + "*" * len(hidden) + value[-4:]


@FAST
@given(
    st.lists(st.text(alphabet="0123456789", min_size=10, max_size=10), min_size=1, max_size=20),
    st.sampled_from(["", "+86", "0086"]),
)
def test_phone_middle_never_leaks(rests: list[str], prefix: str) -> None:
    values = [prefix + "1" + r for r in rests]
    out = mask_array(pa.array(values), "phone_partial").to_pylist()
    for value, masked in zip(values, out, strict=True):
        assert masked == value[: len(prefix) + 3] + "****" + value[-4:]


METHODS = [*sorted({m for m, _, _ in CASES}), "hash", "redact"]


@FAST
@given(st.lists(st.one_of(st.none(), st.text(max_size=40)), max_size=30), st.sampled_from(METHODS))
def test_nulls_stay_null_and_nothing_passes_through(values: list[str | None], method: str) -> None:
    out = mask_array(pa.array(values, pa.string()), method, hash_key=KEY)
    out.validate(full=True)
    assert len(out) == len(values)
    for value, masked in zip(values, out.to_pylist(), strict=True):
        if value is None or method == "redact":
            assert masked is None
            continue
        assert masked is not None
        # a masked value never equals its input, except a value of asterisks only,
        # which a whole-value mask rewrites to itself and which carries nothing to leak
        if value and method != "birth_date_year" and set(value) != {"*"}:
            assert masked != value


@FAST
@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=30))
def test_malformed_values_are_masked_whole(values: list[str]) -> None:
    """Arbitrary text: either the value fits a shape (and is partially masked) or it is
    all stars; in no case does a malformed value leave unmasked."""
    for method in ("id_number_partial", "bank_card_last4"):
        out = mask_array(pa.array(values), method).to_pylist()
        for value, masked in zip(values, out, strict=True):
            if not (value.isascii() and value.rstrip("Xx").isdigit()):
                assert masked == "*" * len(value)
    for value, masked in zip(
        values, mask_array(pa.array(values), "address_district").to_pylist(), strict=True
    ):
        assert masked.endswith("****") and masked != value


@FAST
@given(
    st.lists(st.text(max_size=20), min_size=1, max_size=30),
    st.text(min_size=1, max_size=20),
    st.text(min_size=1, max_size=20),
)
def test_hash_tokens_within_and_across_cases(values: list[str], case_a: str, case_b: str) -> None:
    secret = b"s" * 32
    key_a, key_b = derive_case_key(secret, case_a), derive_case_key(secret, case_b)
    first = mask_array(pa.array(values), "hash", hash_key=key_a).to_pylist()
    again = mask_array(pa.array(list(reversed(values))), "hash", hash_key=key_a).to_pylist()
    assert first == list(reversed(again))  # stable within a case, across runs and order
    assert first == [hash_token(v, key_a) for v in values]  # the scalar form agrees
    for token in first:
        assert token is not None and token.startswith("tk_") and len(token) == 27
    if case_a != case_b:
        other = mask_array(pa.array(values), "hash", hash_key=key_b).to_pylist()
        assert not set(first) & set(other)


def test_hash_of_non_strings_uses_canonical_text() -> None:
    ints = mask_array(pa.array([123, None]), "hash", hash_key=KEY).to_pylist()
    assert ints == [hash_token("123", KEY), None]
    dates = mask_array(pa.array([datetime.date(1978, 5, 4)]), "hash", hash_key=KEY)
    assert dates.to_pylist() == [hash_token("1978-05-04", KEY)]
    with pytest.raises(ValueError):
        mask_array(pa.array(["x"]), "hash")


def test_birth_date_year_on_dates_and_redact_types() -> None:
    dates = pa.array([datetime.date(1978, 5, 4), None], pa.date32())
    assert mask_array(dates, "birth_date_year").to_pylist() == ["1978", None]
    redacted = mask_array(pa.array([1, 2], pa.int64()), "redact")
    assert redacted.type == pa.int64() and redacted.null_count == 2
    with pytest.raises(ValueError):
        mask_array(pa.array(["x"]), "no_such_method")


@FAST
@given(
    st.lists(
        st.tuples(st.integers(-(2**62), 2**62), st.text(max_size=10), st.floats(allow_nan=False)),
        min_size=1,
        max_size=20,
    )
)
def test_mask_batch_keeps_other_columns(rows: list[tuple[int, str, float]]) -> None:
    batch = pa.RecordBatch.from_pydict(
        {
            "id": [r[0] for r in rows],
            "phone": [r[1] for r in rows],
            "score": [r[2] for r in rows],
        }
    )
    out = mask_batch(batch, {"phone": "phone_partial"}, hash_key=None)
    assert out.schema.names == ["id", "phone", "score"]
    assert out.column(0).equals(batch.column(0)) and out.column(2).equals(batch.column(2))
    assert out.column(1).to_pylist() == mask_array(batch.column(1), "phone_partial").to_pylist()


def test_mask_secret_file(tmp_path: Path) -> None:
    secret = load_mask_secret(tmp_path)
    path = tmp_path / "keys" / "mask.secret"
    assert len(secret) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_mask_secret(tmp_path) == secret
    assert derive_case_key(secret, "c1") != derive_case_key(secret, "c2")
    assert len(derive_case_key(secret, "c1")) == 32


@pytest.mark.parametrize("method", sorted({m for m, _, _ in CASES}))
def test_vectors_as_large_string(method: str) -> None:
    cases = [(raw, exp) for m, raw, exp in CASES if m == method]
    out = mask_array(pa.array([raw for raw, _ in cases], pa.large_string()), method)
    out.validate(full=True)
    assert out.to_pylist() == [exp for _, exp in cases]


# address_district answers from distinct prefixes; the pattern on whole values is the
# reference. Short prefixes (a few bytes) exercise cut characters and undecided prefixes.
ADDRESS_TEXT = st.text(
    alphabet=st.sampled_from(
        [*"省市区县旗州盟", *"自治特别行政地", *"湖南长沙北京甲", " ", "\t", "1", "a", "😀", "é"]
    ),
    max_size=24,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.none(), ADDRESS_TEXT), max_size=40),
    st.lists(st.integers(1, 48), max_size=4),
    st.booleans(),
)
def test_address_prefix_path_agrees_with_the_pattern(
    values: list[str | None], prefix_bytes: list[int], large: bool
) -> None:
    arr = pa.array(values, pa.large_string() if large else pa.string())
    fast = address_district(arr, prefix_bytes=prefix_bytes)
    fast.validate(full=True)
    assert fast.type == arr.type
    assert fast.to_pylist() == address_by_pattern(arr).to_pylist()


@FAST
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "湖南省", "广西壮族自治区", "香港特别行政区", "北京"]),
            st.sampled_from(["", "长沙市", "湘西土家族苗族自治州", "大兴安岭地区", "锡林郭勒盟"]),
            st.sampled_from(["", "芙蓉区", "长沙县", "浏阳市", "科尔沁右翼前旗", "城步苗族自治县"]),
            st.sampled_from(["", "五一大道1号", "开元路 8 号", "小区3栋", "市府路"]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_address_shapes_agree_with_the_pattern(parts: list[tuple[str, str, str, str]]) -> None:
    values = ["".join(p) for p in parts]
    arr = pa.array(values)
    expected = address_by_pattern(arr).to_pylist()
    assert mask_array(arr, "address_district").to_pylist() == expected
    for prefix_bytes in ([3], [10, 20], [27]):
        assert address_district(arr, prefix_bytes=prefix_bytes).to_pylist() == expected


def test_address_many_distinct_prefixes_take_the_pattern() -> None:
    values = [f"{i}号楼" if i % 2 else f"省{i}区" for i in range(1000)] + [None, ""]
    arr = pa.array(values)
    assert address_district(arr).to_pylist() == address_by_pattern(arr).to_pylist()


@FAST
@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "张三", ""]), st.text(max_size=8))))
def test_hash_of_repeated_values_any_string_type(values: list[str | None]) -> None:
    """Distinct values are hashed once and spread back: every row still gets its token."""
    expected = [None if v is None else hash_token(v, KEY) for v in values]
    for arr in (
        pa.array(values, pa.string()),
        pa.array(values, pa.large_string()),
        pa.array(values, pa.string()).dictionary_encode(),
        pa.chunked_array([pa.array(values[:3], pa.string()), pa.array(values[3:], pa.string())]),
    ):
        out = mask_array(arr, "hash", hash_key=KEY)
        out.validate(full=True)
        assert out.type == pa.string() and out.to_pylist() == expected


def test_a_surname_is_cut_by_characters_not_bytes() -> None:
    """'é𐀀' has 6 bytes for 2 characters, as a plain Han name does: the head was cut at
    3 bytes, inside the second character, and the column was invalid UTF-8."""
    out = mask_array(pa.array(["é𐀀", "张三", "欧阳娜娜"], pa.string()), "name_surname")
    out.validate(full=True)
    assert out.to_pylist() == ["é*", "张*", "欧阳**"]
