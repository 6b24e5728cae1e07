"""ID numbers in one spelling (``id_spelling``, stop 37): the column path
(``canonical_column``, a regex pass and the odd values re-spelt in Python) spells each
number as the one-value path (``canonical_id_number``) does; and a field classed as an
ID number gets, on every path that makes a ``hash`` token — the small answer's per-value
masks (``values.mask_values``), the Arrow path's per-value and vectorised ones
(``mask_array``), with the native kernel or without — the token of its canonical
spelling, which for a canonical value is the token it always had. Other fields keep
their spelling."""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from gateway.enforcement.masking import tokens
from gateway.enforcement.masking.apply import mask_array, mask_batch
from gateway.enforcement.masking.id_spelling import canonical_column, canonical_id_number
from gateway.enforcement.masking.values import mask_values

# what clerks type into an ID-number column: digits, the check letter either case, and
# white space of every kind Python's str.split() knows (the ideographic space included)
SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000"
)
# full-width digits and check letters (a Chinese input method's), and characters whose
# compatibility form or upper case is another of no letter category (red team 50)
WIDE = "０１２３４５６７８９Ｘｘⓐⅰΐͅﬁ"
# groups joined by dashes, and characters that show nothing pasted with a number: a
# zero-width space and joiner, a soft hyphen, a byte-order mark (red team 52)
JOINED = "-\u2010\u2013\uff0d\u200b\u200d\u00ad\ufeff"
TYPED = st.text(alphabet="0123456789Xx" + SPACES + WIDE + JOINED, max_size=24)
KEYS = st.sampled_from([b"k" * 32, bytes(range(32)), bytes(range(100))])


@st.composite
def spelt(draw: st.DrawFn) -> str:
    """A canonical number (18 characters, maybe an ``X``; or 15 digits) spelt as some
    clerk typed it: white space anywhere, the check letter in either case."""
    number = draw(st.from_regex(r"[1-9][0-9]{16}[0-9X]|[1-9][0-9]{14}", fullmatch=True))
    out = []
    for char in number:
        out.append(draw(st.text(alphabet=SPACES, max_size=2)))
        out.append(char.lower() if char == "X" and draw(st.booleans()) else char)
    out.append(draw(st.text(alphabet=SPACES, max_size=2)))
    return "".join(out)


NUMBERS = st.lists(st.one_of(st.none(), spelt(), TYPED), max_size=40)


def today(value: str, key: bytes) -> str:
    """The token a canonical value has always had: ``tk_`` and the first 24 hex digits
    of HMAC-SHA256 (written out here, so that no change of the module moves it)."""
    return "tk_" + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:24]


def _every_path(values: list[str | None], key: bytes) -> dict[str, list[str | None]]:
    """The ``hash`` tokens of an ID-number column by each path that makes them."""
    column = pa.array(values, pa.string())
    paths = {
        "values": mask_values(values, "hash", hash_key=key, logical="string", id_number=True),
        "arrow per value": mask_array(column, "hash", hash_key=key, id_number=True).to_pylist(),
        "arrow vectorised": mask_array(column, "hash", hash_key=key, id_number=True,
                                       small_max=0).to_pylist(),
        "large_string": mask_array(column.cast(pa.large_string()), "hash", hash_key=key,
                                   id_number=True, small_max=0).to_pylist(),
    }  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:  # the kernel not built: Python's HMAC
        patch.setattr(tokens, "_native", None)
        paths["python per value"] = mask_array(column, "hash", hash_key=key,
                                               id_number=True).to_pylist()  # fmt: skip
        paths["python vectorised"] = mask_array(column, "hash", hash_key=key, id_number=True,
                                                small_max=0).to_pylist()  # fmt: skip
    return paths  # type: ignore[return-value]


@settings(deadline=None)  # the first example compiles the column path's regex (RE2)
@given(st.lists(st.one_of(st.none(), TYPED), max_size=40))
def test_the_column_spells_each_value_as_one_value_is_spelt(values: list[str | None]) -> None:
    spelt = canonical_column(pa.array(values, pa.string())).to_pylist()
    assert spelt == [None if v is None else canonical_id_number(v) for v in values]


def _spelt_in_general(id_number: str) -> str:
    """``canonical_id_number`` without its ASCII shortcut: the module's rule, character
    by character."""
    import unicodedata

    from gateway.enforcement.masking.id_spelling import _dropped, _second_generation

    spelt = unicodedata.normalize("NFKC", id_number)
    return _second_generation("".join(c for c in spelt if not _dropped(c)).upper())


@given(st.one_of(TYPED, st.text(alphabet=st.characters(max_codepoint=127), max_size=20),
                 st.from_regex(r"[0-9]{15}|[0-9]{17}[0-9xX]", fullmatch=True)))  # fmt: skip
def test_the_ascii_shortcut_spells_as_the_rule(value: str) -> None:
    assert canonical_id_number(value) == _spelt_in_general(value)


def test_a_number_typed_full_width_is_its_ascii_number() -> None:
    typed = "１１０１０１ １９９００１０１ １２３ｘ"
    assert canonical_id_number(typed) == "11010119900101123X"
    assert canonical_column(pa.array([typed], pa.string())).to_pylist() == ["11010119900101123X"]


def test_a_number_with_dashes_or_invisible_characters_is_its_number() -> None:
    for typed in ("110101-19900101-123x", "110101\u200b19900101\u00ad123X\ufeff",
                  "１１０１０１－１９９００１０１－１２３Ｘ"):  # fmt: skip
        assert canonical_id_number(typed) == "11010119900101123X", repr(typed)
        assert canonical_column(pa.array([typed], pa.string())).to_pylist() == [
            "11010119900101123X"
        ]


def test_a_first_generation_number_is_its_eighteen_digit_number() -> None:
    """15 digits (issued before 1999): ``19`` before the birth year and the check digit
    after, GB 11643's (red team 52; the lead's call, stop 39)."""
    for typed in ("110105491231002", "110105 491231 002", "１１０１０５４９１２３１００２"):
        assert canonical_id_number(typed) == "11010519491231002X", repr(typed)
        assert canonical_column(pa.array([typed], pa.string())).to_pylist() == [
            "11010519491231002X"
        ]
    assert ric.is_valid(canonical_id_number("430121850101001"))
    for other in ("11010549123100", "1101054912310021", "11010549123100X", "A10105491231002"):
        assert canonical_id_number(other) == other  # not 15 digits: as it is


@settings(deadline=None)
@given(key=KEYS, number=st.from_regex(r"[1-9][0-9]{5}[0-9]{9}", fullmatch=True))
def test_a_first_generation_number_has_its_holders_token(key: bytes, number: str) -> None:
    eighteen = canonical_id_number(number)
    assert len(eighteen) == 18 and eighteen[6:8] == "19" and eighteen[8:17] == number[6:]
    for path, got in _every_path([number, eighteen], key).items():
        assert got[0] == got[1] == today(eighteen, key), path


def test_canonical_values_pass_unchanged() -> None:
    column = pa.array(["11010119900101123X", None, "430121198512120011"], pa.string())
    assert canonical_column(column) is column


def test_the_kernel_is_there_to_compare() -> None:
    """The native paths above are the kernel's only where it is built (make install)."""
    assert tokens.native_available()


@settings(max_examples=150, deadline=None)
@given(values=NUMBERS, key=KEYS)
def test_every_path_gives_the_canonical_numbers_token(values: list[str | None], key: bytes) -> None:
    want = [None if v is None else today(canonical_id_number(v), key) for v in values]
    for path, got in _every_path(values, key).items():
        assert got == want, path


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.from_regex(r"[1-9][0-9]{16}[0-9X]", fullmatch=True)),
                    max_size=40),
    key=KEYS,
)  # fmt: skip
def test_a_canonical_number_keeps_its_token(values: list[str | None], key: bytes) -> None:
    """Tokens handed out before stay valid: a canonical value's is unchanged, as an ID
    number or as any other field's value."""
    want = [None if v is None else today(v, key) for v in values]
    for path, got in _every_path(values, key).items():
        assert got == want, path
    plain = mask_array(pa.array(values, pa.string()), "hash", hash_key=key)
    assert plain.to_pylist() == want


def test_many_values_natively_split_and_dictionary_encoded() -> None:
    """Past ``SAMPLE_FROM`` (a sample decides on dictionary encoding) and
    ``NATIVE_SPLIT_FROM`` (the kernel on two threads): the same tokens."""
    key = b"k" * 32
    number = "43018119960208434X"
    spellings = [number, number.lower(), f"{number[:6]} {number[6:14]} {number[14:].lower()}",
                 f"\u3000{number}\t"]  # fmt: skip
    repeated = pa.array(spellings * 20_000 + [None])
    distinct = pa.array([f"{n:017d}x" for n in range(20_000)] + [f" {n:017d}X" for n in range(5)])
    assert set(mask_array(repeated, "hash", hash_key=key, id_number=True).to_pylist()) == {
        today(number, key), None}  # fmt: skip
    tokens_of = mask_array(distinct, "hash", hash_key=key, id_number=True).to_pylist()
    assert tokens_of == [today(f"{n:017d}X", key) for n in [*range(20_000), *range(5)]]


@pytest.mark.parametrize("value", ["王 小明", "ab c", "Room 1x", "tk_ab"])
def test_other_fields_keep_their_spelling(value: str) -> None:
    """Only a field classed as an ID number is re-spelt: another field's value is
    tokenised as stored (its spaces and case are its own)."""
    key = b"k" * 32
    column = pa.array([value])
    for small_max in (0, 128):
        got = mask_array(column, "hash", hash_key=key, small_max=small_max).to_pylist()
        assert got == [today(value, key)]
    assert mask_values([value], "hash", hash_key=key, logical="string") == [today(value, key)]


def test_a_pseudonym_is_of_the_canonical_number() -> None:
    """``id_number_fpe`` (the case investigation's mask) of a number stored with spaces
    and a lower-case check digit is that person's pseudonym, as the canonical number's
    (it was all stars: no number to encrypt); another field is not re-spelt."""
    key = b"k" * 32
    stored, canonical = pa.array(["110101 19900101 123x"]), pa.array(["11010119900101123X"])
    want = mask_array(canonical, "id_number_fpe", hash_key=key).to_pylist()
    assert "*" not in want[0]
    assert mask_array(stored, "id_number_fpe", hash_key=key, id_number=True).to_pylist() == want
    assert mask_array(stored, "id_number_fpe", hash_key=key).to_pylist() != want


@pytest.mark.parametrize("method", ["id_number_partial", "redact", "keep_last:4"])
def test_other_masks_of_an_id_number_are_untouched(method: str) -> None:
    column = pa.array(["110101 19900101 123x", "11010119900101123X", None])
    assert mask_array(column, method, id_number=True).equals(mask_array(column, method))


def test_a_batch_spells_only_its_id_number_columns() -> None:
    """``mask_batch`` (a query's and a comparison side's masks, on the gateway and on
    Spark's executors) re-spells the columns ``id_numbers`` names, and those alone."""
    key = b"k" * 32
    stored = "110101 19900101 123x"
    batch = pa.record_batch({"id_number": [stored], "other": [stored]})
    out = mask_batch(batch, {"id_number": "hash", "other": "hash"}, hash_key=key,
                     id_numbers=["id_number"])  # fmt: skip
    assert out.column("id_number").to_pylist() == [today("11010119900101123X", key)]
    assert out.column("other").to_pylist() == [today(stored, key)]
