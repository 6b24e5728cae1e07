"""The native HMAC kernel gives exactly the Python path's tokens."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.enforcement.masking import tokens
from gateway.enforcement.masking.tokens import HmacTokens, hash_array

KEY = bytes(range(32))
LONG_KEY = bytes(range(100))  # longer than a SHA-256 block: hashed first (RFC 2104)


def test_the_kernel_is_built() -> None:
    """`pip install` builds it where a compiler and OpenSSL headers are (make install
    provides both); without it the mask still works, at a quarter of the speed."""
    assert tokens.native_available()


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.text(max_size=80) | st.binary(max_size=200).map(
        lambda b: b.decode("utf-8", "replace")), max_size=60),
    key=st.sampled_from([KEY, LONG_KEY, b"x" * 64]),
    start=st.integers(0, 5),
    large=st.booleans(),
)  # fmt: skip
def test_native_equals_python(values: list[str], key: bytes, start: int, large: bool) -> None:
    kind = pa.large_binary() if large else pa.binary()
    array = pa.array([v.encode() for v in ["pad"] * 5 + values], kind).slice(start)
    hmac = HmacTokens(key)
    native = hmac.array_tokens(array)
    assert native.equals(hmac.array_tokens(array, native=False))
    assert native.to_pylist() == [hmac.token(v) for v in array.to_pylist()]


def test_split_over_threads_keeps_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "NATIVE_SPLIT_FROM", 4)
    array = pa.array([f"4301211990{i:08d}".encode() for i in range(1001)], pa.binary())
    hmac = HmacTokens(KEY)
    assert hmac.array_tokens(array).equals(hmac.array_tokens(array, native=False))


def test_hash_array_is_the_same_with_and_without_the_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = pa.array([None if i % 11 == 0 else f"张{i % 300}" for i in range(20_000)], pa.string())
    with_kernel = hash_array(values, KEY)
    monkeypatch.setattr(tokens, "_native", None)
    assert with_kernel.equals(hash_array(values, KEY))
    assert with_kernel.null_count == values.null_count


def test_the_kernel_refuses_offsets_outside_its_buffers() -> None:
    kernel = tokens._native
    assert kernel is not None
    array = pa.array([b"abc", b"de"], pa.binary())
    _validity, offsets, data = array.buffers()
    with pytest.raises(ValueError, match="offsets"):
        kernel.tokens(b"k" * 64, offsets, data, 0, 3, False)  # one value too many
    with pytest.raises(ValueError, match="key block"):
        kernel.tokens(b"short", offsets, data, 0, 2, False)
    bad = pa.py_buffer(pa.array([0, 99], pa.int32()).buffers()[1].to_pybytes())
    with pytest.raises(ValueError, match="outside"):
        kernel.tokens(b"k" * 64, bad, data, 0, 1, False)


def test_the_key_stays_out_of_reprs() -> None:
    assert KEY.hex() not in repr(HmacTokens(KEY))
    assert "key hidden" in repr(HmacTokens(KEY))


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.none() | st.text(max_size=40) | st.sampled_from(
        ["11010519491231002x", "11010519491231002X", "", "😀\U00020000"]), max_size=40),
    key=st.sampled_from([KEY, LONG_KEY, b"x" * 64]),
)  # fmt: skip
def test_a_few_values_tokens_by_the_kernel_are_pythons(
    values: list[str | None], key: bytes
) -> None:
    """``HmacTokens.tokens`` (a small answer's hash mask and subject tokens) hands the
    values' bytes back to back to the kernel: the same tokens as one ``token`` each."""
    hmac = HmacTokens(key)
    native = hmac.tokens(values)
    expected = [None if v is None else hmac.token(tokens.canonical_spelling(v).encode())
                for v in values]  # fmt: skip
    assert native == expected
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tokens, "_native", None)
        assert hmac.tokens(values) == expected
