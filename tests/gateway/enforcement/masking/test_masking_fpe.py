"""``id_number_fpe``: FF3-1 checked on NIST's ACVP vectors; pseudonyms of any ID number
are 18 characters with the checksum as valid (or as wrong) as the input's, decrypt back
exactly with the case key, are one-to-one within a case and unrelated across cases
(hypothesis)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from ff3 import FF3Cipher
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from gateway.enforcement.masking import (
    decrypt_id_number,
    derive_case_key,
    hash_token,
    mask_array,
    reidentify,
)
from gateway.enforcement.masking.fpe import check_character, fpe_key, is_valid_id18

FAST = settings(max_examples=60, deadline=None)
SECRET = b"s" * 32
KEY = derive_case_key(SECRET, "C-2024-017")
BODIES = st.text(alphabet="0123456789", min_size=17, max_size=17)
CHECKS = st.sampled_from("0123456789Xx")

# NIST ACVP FF3-1 radix-10 cases (56-bit tweaks), as the ff3 package's tests carry them
ACVP = [
    ("2DE79D232DF5585D68CE47882AE256D6", "CBD09280979564", "3992520240", "8901801106"),
    (
        "01C63017111438F7FC8E24EB16C71AB5",
        "C4E822DCD09F27",
        "60761757463116869318437658042297305934914824457484538562",
        "35637144092473838892796702739628394376915177448290847293",
    ),
    ("F62EDB777A671075D47563F3A1E9AC797AA706A2D8E02FC8", "493B8451BF6716", "4406616808",
     "1807744762"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "tweak", "plain", "cipher"), ACVP)
def test_ff3_1_on_nist_vectors(key: str, tweak: str, plain: str, cipher: str) -> None:
    ff3 = FF3Cipher(key, tweak, radix=10)
    assert ff3.encrypt(plain) == cipher
    assert ff3.decrypt(cipher) == plain


@FAST
@given(st.lists(BODIES, min_size=1, max_size=20), CHECKS)
def test_pseudonyms_keep_shape_and_checksum_validity_and_decrypt(
    bodies: list[str], check: str
) -> None:
    values = [b + check_character(b) for b in bodies] + [b + check for b in bodies]
    out = mask_array(pa.array(values), "id_number_fpe", hash_key=KEY).to_pylist()
    for value, pseudonym in zip(values, out, strict=True):
        assert pseudonym is not None and len(pseudonym) == 18
        assert pseudonym[:17].isdigit() and pseudonym[17] in "0123456789X"
        assert is_valid_id18(pseudonym) == is_valid_id18(value)
        assert (ric.calc_check_digit(pseudonym) == pseudonym[17]) == is_valid_id18(value)
        assert decrypt_id_number(pseudonym, KEY) == value.upper()


@FAST
@given(st.lists(st.text(alphabet="0123456789", min_size=15, max_size=15), max_size=20))
def test_old_15_digit_numbers_round_trip(values: list[str]) -> None:
    out = mask_array(pa.array(values), "id_number_fpe", hash_key=KEY).to_pylist()
    assert all(p is not None and len(p) == 15 and p.isdigit() for p in out)
    assert [decrypt_id_number(p, KEY) for p in out if p is not None] == values


@FAST
@given(st.lists(BODIES, min_size=2, max_size=30, unique=True))
def test_one_to_one_within_a_case(bodies: list[str]) -> None:
    values = [b + check_character(b) for b in bodies]
    out = mask_array(pa.array(values * 2), "id_number_fpe", hash_key=KEY).to_pylist()
    assert out[: len(values)] == out[len(values) :]  # the same person, the same pseudonym
    assert len(set(out[: len(values)])) == len(values)  # different people stay different


@FAST
@given(st.lists(BODIES, min_size=3, max_size=10, unique=True), st.text(min_size=1, max_size=12))
def test_unrelated_across_cases_and_reversible_only_with_the_case(
    bodies: list[str], other_case: str
) -> None:
    if other_case == "C-2024-017":
        return
    values = [b + check_character(b) for b in bodies]
    mine = mask_array(pa.array(values), "id_number_fpe", hash_key=KEY).to_pylist()
    other_key = derive_case_key(SECRET, other_case)
    theirs = mask_array(pa.array(values), "id_number_fpe", hash_key=other_key).to_pylist()
    assert not set(mine) & set(theirs)
    assert [reidentify(p, secret=SECRET, case_ref="C-2024-017") for p in mine] == values
    assert [decrypt_id_number(p, other_key) for p in mine] != values


@FAST
@given(st.lists(st.one_of(st.none(), st.text(max_size=20)), max_size=30))
def test_anything_not_an_id_number_is_masked_whole(values: list[str | None]) -> None:
    out = mask_array(pa.array(values, pa.large_string()), "id_number_fpe", hash_key=KEY)
    assert out.type == pa.large_string()
    for value, masked in zip(values, out.to_pylist(), strict=True):
        if value is None:
            assert masked is None
            continue
        shaped18 = len(value) == 18 and value[:17].isascii() and value[:17].isdigit()
        shaped18 = shaped18 and value[17] in "0123456789Xx"
        shaped15 = len(value) == 15 and value.isascii() and value.isdigit()
        if not (shaped18 or shaped15):
            assert masked == "*" * len(value)


def test_the_fpe_key_is_not_the_hash_key_and_stays_out_of_reprs() -> None:
    key = fpe_key(KEY)
    assert "hidden" in repr(key) and KEY.hex() not in repr(key)
    value = "11010519491231002X"
    pseudonym = mask_array(pa.array([value]), "id_number_fpe", hash_key=KEY).to_pylist()[0]
    assert pseudonym != value and not pseudonym.startswith("tk_")
    assert hash_token(value, KEY) != hash_token(pseudonym, KEY)
    with pytest.raises(ValueError, match="not an FF3-1 pseudonym"):
        decrypt_id_number("******************", KEY)
