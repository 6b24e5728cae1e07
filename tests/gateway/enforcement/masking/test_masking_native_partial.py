"""The native kernels of ``id_number_partial`` and ``name_surname`` give exactly the
vectorised masks' results, and refuse malformed buffers instead of reading past them."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.vocabulary import COMPOUND_SURNAMES
from gateway.enforcement.masking import native, partial
from gateway.enforcement.masking.native import _COMPOUND, mask_text

ID = "id_number_partial"
NAME = "name_surname"
PHONE = "phone_partial"
CARD = "bank_card_last4"
VECTORISED = {ID: partial.id_number_partial, NAME: partial.name_surname,
              PHONE: partial.phone_partial, CARD: partial.bank_card_last4}  # fmt: skip

digits = st.text(alphabet="0123456789", min_size=0, max_size=20)
id_like = st.one_of(
    digits,
    st.builds(
        lambda d, x: d + x,
        st.text("0123456789", min_size=17, max_size=17),
        st.sampled_from(["X", "x", "0", "9", "Y", "XX"]),
    ),
    st.text(alphabet="0123456789Xx -", max_size=20),
    st.text(max_size=20),
)
cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
name_like = st.one_of(
    st.text(alphabet=cjk, min_size=0, max_size=34),
    st.builds(
        lambda s, rest: s + rest,
        st.sampled_from(COMPOUND_SURNAMES),
        st.text(alphabet=cjk, max_size=4),
    ),
    st.text(alphabet=st.sampled_from("张王李欧阳司马·ÀA 1😀𠀀"), max_size=8),
    st.text(max_size=10),
)


def _check(values: list[str | None], method: str, large: bool, start: int) -> None:
    kind = pa.large_string() if large else pa.string()
    array = pa.array(["pad"] * 3 + values, kind).slice(start)
    got = mask_text(array, method, VECTORISED[method])
    assert got.equals(VECTORISED[method](array)), (values, got)


def test_the_kernels_are_built() -> None:
    assert native.available()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.none() | id_like, max_size=40), st.booleans(), st.integers(0, 3))
def test_id_numbers_equal_the_vectorised_mask(values: list[str | None], large: bool,
                                              start: int) -> None:  # fmt: skip
    _check(values, ID, large, start)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.none() | name_like, max_size=40), st.booleans(), st.integers(0, 3))
def test_names_equal_the_vectorised_mask(values: list[str | None], large: bool,
                                         start: int) -> None:  # fmt: skip
    _check(values, NAME, large, start)


number_like = st.one_of(
    st.text(alphabet="0123456789", max_size=21),
    st.builds(lambda d: "1" + d, st.text("0123456789", min_size=10, max_size=10)),
    st.text(alphabet="0123456789+- ", max_size=16),
    st.text(max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.none() | number_like, max_size=40), st.booleans(), st.integers(0, 3),
       st.sampled_from([PHONE, CARD]))  # fmt: skip
def test_phones_and_cards_equal_the_vectorised_mask(
    values: list[str | None], large: bool, start: int, method: str
) -> None:
    _check(values, method, large, start)


def test_every_compound_surname_and_the_edges() -> None:
    names = [s + "明" for s in COMPOUND_SURNAMES] + list(COMPOUND_SURNAMES) + [
        "张", "张三", "欧阳", "欧阳明", "鿥鿥", "龥龥", "一丁", "张" * 32, "张" * 33, "",
    ]  # fmt: skip
    _check(names, NAME, False, 0)
    ids = ["430121199001011234", "43012119900101123X", "43012119900101123x",
           "4301211990010112XX", "430121900101123", "43012190010112", "",
           "４３０１２１"]  # fmt: skip
    _check(ids, ID, False, 0)


def test_all_null_and_empty_arrays() -> None:
    for method in (ID, NAME, PHONE, CARD):
        _check([None, None], method, False, 3)
        _check([], method, True, 3)


def _buffers(values: list[str]) -> tuple[pa.Buffer, pa.Buffer]:
    _validity, offsets, data = pa.array(values, pa.string()).buffers()
    return offsets, data


def test_the_kernel_refuses_bad_arguments() -> None:
    kernel = native._kernel
    assert kernel is not None
    offsets, data = _buffers(["430121199001011234", "张三"])
    good = kernel.mask(0, offsets, data, 0, 2, False, _COMPOUND)
    assert bytes(good[2]) == b"\x01\x00"
    for kind, first, count, compound in (
        (4, 0, 2, _COMPOUND),  # unknown kind
        (-1, 0, 2, _COMPOUND),
        (0, 0, 3, _COMPOUND),  # one value too many
        (0, 2**62, 0, _COMPOUND),  # huge first
        (0, 0, 2**62, _COMPOUND),  # huge count
        (0, -1, 1, _COMPOUND),
        (1, 0, 2, b"12345"),  # compound list not in 6-byte entries
    ):
        with pytest.raises(ValueError):
            kernel.mask(kind, offsets, data, first, count, False, compound)
    empty = kernel.mask(0, offsets, data, 2, 0, False, _COMPOUND)  # count 0 at the end
    assert bytes(empty[1]) == b"" and bytes(empty[2]) == b""


def test_the_kernel_refuses_offsets_that_do_not_grow_or_leave_the_data() -> None:
    kernel = native._kernel
    assert kernel is not None
    _offsets, data = _buffers(["430121199001011234", "430121199001011235"])
    for bad in ([0, 18, 10], [0, 40, 36], [-1, 18, 36], [0, 18, 99], [20, 18, 36]):
        offsets = pa.py_buffer(pa.array(bad, pa.int32()).buffers()[1].to_pybytes())
        with pytest.raises(ValueError, match="offsets"):
            kernel.mask(0, offsets, data, 0, 2, False, _COMPOUND)
