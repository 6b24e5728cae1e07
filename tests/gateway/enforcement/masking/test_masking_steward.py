"""Steward-defined masks (``keep_first``, ``keep_last``, ``replace``) against Python
references on any text, and the spec grammar on any text: a spec is valid in exactly
one spelling, or refused with a ``ValueError`` — never anything else (hypothesis)."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.mask_specs import MAX_SPEC_CHARS, is_mask_spec, parse_mask_spec
from gateway.enforcement.masking import mask_array
from gateway.enforcement.masking.steward import NO_MATCH

FAST = settings(max_examples=80, deadline=None)
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from([*"0123456789abcXYZ张三丰有限公司-_./:()+ \n\t*", "😀", "é"]),
        st.characters(codec="utf-8"),  # Arrow strings are UTF-8: no lone surrogates
    ),
    max_size=30,
)
VALUES = st.lists(st.one_of(st.none(), TEXT), max_size=30)


def keep_first(value: str, n: int) -> str:
    return value[:n] + "*" * (len(value) - n) if len(value) > n else "*" * len(value)


def keep_last(value: str, n: int) -> str:
    return "*" * (len(value) - n) + value[-n:] if len(value) > n else "*" * len(value)


@FAST
@given(VALUES, st.integers(1, 64), st.booleans())
def test_keep_first_and_last(values: list[str | None], n: int, large: bool) -> None:
    column = pa.array(values, pa.large_string() if large else pa.string())
    first = mask_array(column, f"keep_first:{n}")
    last = mask_array(column, f"keep_last:{n}")
    first.validate(full=True)
    assert first.type == column.type
    assert first.to_pylist() == [None if v is None else keep_first(v, n) for v in values]
    assert last.to_pylist() == [None if v is None else keep_last(v, n) for v in values]


ITEMS = st.tuples(
    st.sampled_from(["#", "@", "?", "a", "Z", "7", "张", "-", ".", " ", "有", "(", "+"]),
    st.integers(1, 4),
)


def python_pattern(items: list[tuple[str, int]]) -> str:
    classes = {"#": "[0-9]", "@": "[A-Za-z]", "?": "."}
    return "".join(f"(?:{classes.get(c) or re.escape(c)}){{{n}}}" for c, n in items)


@FAST
@given(VALUES, st.lists(ITEMS, min_size=1, max_size=4))
def test_replace_equals_pythons_re_on_the_same_pattern(
    values: list[str | None], items: list[tuple[str, int]]
) -> None:
    pattern = "".join(c + (f"{{{n}}}" if n > 1 else "") for c, n in items)
    spec = f"replace:{pattern}"
    if len(spec) > MAX_SPEC_CHARS:
        return
    stars = "*" * sum(n for _, n in items)
    reference = re.compile(python_pattern(items), re.DOTALL)
    out = mask_array(pa.array(values, pa.string()), spec)
    out.validate(full=True)
    # fail closed: a value the pattern finds nothing in is replaced whole
    expected = [None if v is None else reference.sub(stars, v)
                if v == "" or reference.search(v) else NO_MATCH for v in values]  # fmt: skip
    assert out.to_pylist() == expected


SPEC_LIKE = st.from_regex(r"(keep_first|keep_last|round|bucket|replace):.{0,30}", fullmatch=True)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=40), SPEC_LIKE))
def test_any_text_is_a_canonical_spec_or_a_value_error(text: str) -> None:
    try:
        spec = parse_mask_spec(text)
    except ValueError:
        assert not is_mask_spec(text)
        return
    assert spec.text == text and is_mask_spec(text)
    assert len(text) <= MAX_SPEC_CHARS
    # plain text for every policy engine: no quotes, backslashes or control characters
    assert not set(text) & set("\"'\\") and all(c.isprintable() for c in text)
    assert not set(text) & set("{}") or spec.method == "replace"
    # every valid spec masks arbitrary text without failing
    mask_array(pa.array(["12345 abc 张三", None, ""]), text, hash_key=b"k" * 32)


def test_replace_of_a_fixed_length_keeps_a_matched_values_length() -> None:
    values = ["6222 0212 3456 7890", "", "1234567"]
    out = mask_array(pa.array(values), "replace:#{4}").to_pylist()
    assert [len(o) for o in out] == [len(v) for v in values]
    assert out == ["**** **** **** ****", "", "****567"]


@pytest.mark.parametrize(("spec", "values"), [
    ("replace:#{4}", ["no digits", "123", "62-22-021"]),
    ("replace:@{2}#{4}", ["A12345", "ab-1234"]),
    ("replace:有限公司", ["某某合作社"]),
])  # fmt: skip
def test_replace_fails_closed_on_values_it_finds_nothing_in(spec: str, values: list[str]) -> None:
    """A value the pattern does not describe is not passed through: it could be the
    very value the steward meant to hide, written another way."""
    out = mask_array(pa.array([*values, None], pa.string()), spec).to_pylist()
    assert out[:-1] == [NO_MATCH] * len(values) and out[-1] is None
