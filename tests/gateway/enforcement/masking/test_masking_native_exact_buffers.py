"""Both native kernels on buffers of exactly the size their arguments need.

Arrow pads its buffers (to 64 bytes) and Python's small-object allocator hands out
pooled memory, so a kernel that reads one offset or one byte too far still reads
memory it may touch, and every other test passes. Here the offsets and the data are
``bytes`` objects cut to the last byte the call may read; under ``make sanitize``
(``PYTHONMALLOC=malloc``: every object its own allocation, with AddressSanitizer's
red zone right after it) a read past them is a reported heap-buffer-overflow instead
of a silent one. The answers are checked too, so this also runs in ``make test``.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from gateway.enforcement.masking import native, tokens
from gateway.enforcement.masking.native import _COMPOUND, KINDS
from gateway.enforcement.masking.tokens import HmacTokens

KEY = bytes(range(32))
VALUES = {
    "id_number_partial": ["110105197805041234", "11010519780504123X", "110105780504123", "x"],
    "name_surname": ["张三", "欧阳修文", "李", "O'Brien"],
    "phone_partial": ["13812345678", "1381234567", "+8613812345678"],
    "bank_card_last4": ["6222021234567890123", "622202123456", "12"],
}


def _exact(array: pa.Array, first: int, count: int) -> tuple[bytes, bytes]:
    """The offsets of values ``first .. first + count - 1`` and the data up to the end
    of the last of them, as ``bytes`` of exactly that size."""
    _validity, offsets, data = array.buffers()
    width = 8 if pa.types.is_large_string(array.type) else 4
    start = array.offset + first
    raw_offsets = offsets.to_pybytes()[: (start + count + 1) * width]
    last_end = int.from_bytes(raw_offsets[-width:], "little", signed=True)
    raw_data = data.to_pybytes()[:last_end] if data is not None else b""
    return raw_offsets, raw_data


def _cases(values: list[str]) -> list[tuple[pa.Array, int, int]]:
    cases = []
    for kind in (pa.string(), pa.large_string()):
        array = pa.array(values, kind)
        cases += [(array, 0, len(values)), (array, 1, len(values) - 1), (array, 0, 1)]
        cases.append((array.slice(1), 0, len(values) - 1))
    return cases


@pytest.mark.parametrize("method", sorted(VALUES))
def test_partial_masks_read_nothing_past_exact_buffers(method: str) -> None:
    assert native.available()
    kernel = native._kernel
    assert kernel is not None
    for array, first, count in _cases(VALUES[method]):
        wide = pa.types.is_large_string(array.type)
        offsets, data = _exact(array, first, count)
        got = kernel.mask(KINDS[method], offsets, data, array.offset + first, count, wide,
                          _COMPOUND)  # fmt: skip
        _o, arrow_offsets, arrow_data = array.buffers()
        want = kernel.mask(KINDS[method], arrow_offsets, arrow_data, array.offset + first,
                           count, wide, _COMPOUND)  # fmt: skip
        assert [bytes(part) for part in got] == [bytes(part) for part in want]


def test_hmac_tokens_read_nothing_past_exact_buffers() -> None:
    assert tokens.native_available()
    kernel = tokens._native
    assert kernel is not None
    hmac = HmacTokens(KEY)
    values = ["", "a", "张三", "110105197805041234", "x" * 70]
    for array, first, count in _cases(values):
        offsets, data = _exact(array, first, count)
        got = kernel.tokens(KEY.ljust(64, b"\0"), offsets, data, array.offset + first, count,
                            pa.types.is_large_string(array.type))  # fmt: skip
        chosen = array.to_pylist()[first : first + count]
        assert got == "".join(hmac.token(v.encode()) for v in chosen).encode()
