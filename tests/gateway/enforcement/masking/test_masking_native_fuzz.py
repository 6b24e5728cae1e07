"""The native HMAC kernel under hostile arguments: every call either raises a Python
exception or gives exactly the reference tokens; it never reads outside its buffers."""

from __future__ import annotations

import hashlib
import hmac as std_hmac
import struct
import subprocess
import sys
from itertools import pairwise
from types import ModuleType

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.enforcement.masking import tokens
from gateway.enforcement.masking.tokens import HmacTokens, hash_array

KEY = bytes(range(32))
BLOCK = KEY.ljust(64, b"\0")
HUGE = [2**31, 2**32, 2**61, 2**62 - 1, 2**62, 2**63 - 1, (2**63 - 1) // 4, (2**63 - 1) // 8]


def _kernel() -> ModuleType:
    kernel = tokens._native
    assert kernel is not None
    return kernel


def _reference(offsets: bytes, data: bytes, first: int, count: int, wide: bool) -> bytes | None:
    """The kernel's answer in Python, or None where it must refuse."""
    width = 8 if wide else 4
    if first < 0 or count < 0 or (first + count + 1) * width > len(offsets):
        return None
    fmt = "<q" if wide else "<i"
    at = [struct.unpack_from(fmt, offsets, (first + i) * width)[0] for i in range(count + 1)]
    out = []
    for start, end in pairwise(at):
        if start < 0 or end < start or end > len(data):
            return None
        digest = std_hmac.new(KEY, data[start:end], hashlib.sha256).digest()
        out.append(b"tk_" + digest[:12].hex().encode())
    return b"".join(out)


def test_huge_first_or_count_is_refused_not_a_crash() -> None:
    """``(first + count + 1) * width`` overflowed and passed the bounds check: the kernel
    read far outside the offsets (a segfault). Run in a child so a crash is a failure,
    not the end of the test session."""
    pairs = [(h, 0) for h in HUGE] + [(0, h) for h in HUGE] + [(h, h) for h in HUGE]
    pairs.append((2**62 - 1, 2**62))
    script = (
        "from gateway.enforcement.masking import _hmac_tokens as k\n"
        "offsets, data = bytes(12), b'abcde'\n"
        f"for first, count in {pairs!r}:\n"
        "    for wide in (False, True):\n"
        "        try:\n"
        "            k.tokens(b'k' * 64, offsets, data, first, count, wide)\n"
        "        except (ValueError, OverflowError, MemoryError):\n"
        "            continue\n"
        "        raise SystemExit(f'accepted {first} {count} {wide}')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == 0, (done.returncode, done.stderr[-500:])


@pytest.mark.parametrize("first, count", [(-1, 1), (0, -1), (-(2**63), 0), (3, 0), (0, 3)])
def test_out_of_range_first_or_count_is_refused(first: int, count: int) -> None:
    with pytest.raises(ValueError, match="offsets"):
        _kernel().tokens(BLOCK, bytes(12), b"abc", first, count, False)


@pytest.mark.parametrize(
    "args",
    [
        ("x" * 64, bytes(8), b"", 0, 1, False),
        (BLOCK, None, b"", 0, 0, False),
        (BLOCK, bytes(8), None, 0, 1, False),
        (BLOCK, bytes(8), "ab", 0, 1, False),
        (BLOCK, [0, 1], b"a", 0, 1, False),
        (BLOCK, bytes(8), b"a", "0", 1, False),
        (BLOCK, bytes(8), b"a", 0.0, 1, False),
        (BLOCK, bytes(8), b"a", 2**64, 1, False),
        (BLOCK, bytes(8), b"a", 0, 1),
    ],
)
def test_arguments_of_the_wrong_kind_raise(args: tuple[object, ...]) -> None:
    with pytest.raises((TypeError, OverflowError)):
        _kernel().tokens(*args)


@settings(max_examples=300, deadline=None)
@given(
    raw=st.lists(st.integers(-(2**40), 2**40) | st.integers(-3, 300), max_size=12),
    data=st.binary(max_size=300),
    first=st.integers(-2, 14) | st.sampled_from(HUGE),
    count=st.integers(-2, 14),
    wide=st.booleans(),
    misalign=st.integers(0, 7),
)
def test_any_offsets_give_the_reference_or_a_value_error(
    raw: list[int], data: bytes, first: int, count: int, wide: bool, misalign: int
) -> None:
    """Non-monotonic, negative, past-the-end offsets, either width read from an unaligned
    buffer, against a plain-Python reading of the same bytes."""
    offsets = struct.pack(f"<{len(raw)}{'q' if wide else 'i'}", *[
        v if wide else max(-(2**31), min(2**31 - 1, v)) for v in raw
    ])  # fmt: skip
    unaligned = memoryview(b"\0" * misalign + offsets)[misalign:]
    want = _reference(offsets, data, first, count, wide)
    if want is None:
        with pytest.raises(ValueError):
            _kernel().tokens(BLOCK, unaligned, data, first, count, wide)
    else:
        assert _kernel().tokens(BLOCK, unaligned, data, first, count, wide) == want


def _expect(array: pa.Array) -> list[str]:
    hmac = HmacTokens(KEY)
    return [hmac.token(v) for v in array.to_pylist()]


@pytest.mark.parametrize("kind", [pa.binary(), pa.large_binary()])
def test_edge_arrays_match_the_python_path(kind: pa.DataType) -> None:
    hmac = HmacTokens(KEY)
    long = [b"x" * n for n in (0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_000)]
    arrays = [
        pa.array([], kind),
        pa.array([b"a", b"b"], kind).slice(2),
        pa.array([b"", b"", b""], kind),  # a data buffer of size 0
        pa.array([b"", b"", b""], kind).slice(1, 1),
        pa.array(long, kind),
        pa.array(long, kind).slice(3, 5),
        pa.Array.from_buffers(kind, 0, [None, None, pa.py_buffer(b"")]),  # no offsets at all
    ]
    for array in arrays:
        native = hmac.array_tokens(array)
        assert native.type == pa.string()
        assert native.to_pylist() == _expect(array)
        assert native.equals(hmac.array_tokens(array, native=False))


def test_array_tokens_refuses_nulls_on_both_paths() -> None:
    """A null's slot may span any bytes: the kernel tokenised them while Python failed."""
    hmac = HmacTokens(KEY)
    array = pa.array([b"a", None, b"c"], pa.binary())
    for native in (True, False):
        with pytest.raises(ValueError, match="nulls"):
            hmac.array_tokens(array, native=native)


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_hash_array_edges(kind: pa.DataType) -> None:
    hmac = HmacTokens(KEY)
    cases = [
        pa.array([], kind),
        pa.nulls(5, kind),
        pa.array(["", None, ""], kind).slice(1),
        pa.array([""] * 9000, kind),  # dictionary path, one empty value
        pa.array([str(i) for i in range(9000)] + [None], kind).slice(7),  # distinct path
        pa.array([None] * 9000 + ["a"], kind).slice(8999),
    ]
    for values in cases:
        got = hash_array(values, KEY)
        assert got.type == pa.string()
        want = [None if v is None else hmac.token(v.encode()) for v in values.to_pylist()]
        assert got.to_pylist() == want
