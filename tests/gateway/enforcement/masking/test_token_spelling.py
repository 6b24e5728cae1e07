"""One person, one token: an ID number whose check digit a source stores as ``x`` gets
the token of its ``X`` spelling on every path that makes tokens (vectorised, native,
the few-values path, one value), and nothing else changes spelling."""

from __future__ import annotations

import pyarrow as pa

from gateway.enforcement.masking.apply import mask_array
from gateway.enforcement.masking.tokens import (
    canonical_spelling,
    hash_array,
    hash_token,
    hmac_tokens,
)

KEY = b"k" * 32
UPPER = "11010519491231002X"
LOWER = "11010519491231002x"
UNCHANGED = ["abcx", "1101051949123100x", "110105194912310022x", "11010519491231002ｘ", "x"]


def test_every_path_gives_the_upper_case_token() -> None:
    want = hash_token(UPPER, KEY)
    assert hash_token(LOWER, KEY) == want
    assert hmac_tokens(KEY).tokens([LOWER, None]) == [want, None]
    many = pa.array([LOWER, None, UPPER] * 30_000)  # the native kernel, split in two
    assert set(hash_array(many, KEY).drop_null().to_pylist()) == {want}
    assert set(hash_array(many.cast(pa.large_string()), KEY).drop_null().to_pylist()) == {want}
    distinct = pa.array([LOWER] + [f"{n:018d}" for n in range(20_000)])  # no dictionary
    assert hash_array(distinct, KEY)[0].as_py() == want
    assert mask_array(pa.array([LOWER]), "hash", hash_key=KEY).to_pylist() == [want]  # small
    assert mask_array(pa.array([LOWER]), "hash", hash_key=KEY, small_max=0).to_pylist() == [want]


def test_only_an_id_numbers_check_digit_changes() -> None:
    for value in UNCHANGED:
        assert canonical_spelling(value) == value
        assert hash_array(pa.array([value]), KEY).to_pylist() == [hmac_tokens(KEY).token(
            value.encode())]  # fmt: skip
    assert canonical_spelling(LOWER) == UPPER and canonical_spelling(UPPER) == UPPER
