"""``replace``: whether the pattern found something is read from the replacement itself
(a value changed) wherever the pattern has an item that cannot match ``*``, instead of
a second RE2 pass; ``?``-only patterns, which match stars too, keep the RE2 match. Both
against that RE2 match (the earlier formulation, the reference) on values full of stars,
digits, letters and CJK characters, with nulls, ``""``, chunks, slices and
``large_string``."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.mask_specs import MAX_SPEC_CHARS, parse_mask_spec
from gateway.enforcement.masking import mask_array
from gateway.enforcement.masking.steward import NO_MATCH

FAST = settings(max_examples=150, deadline=None)
TEXT = st.text(alphabet=st.sampled_from([*"**0123aZ张有-. \n", "😀", "é"]), max_size=12)
VALUES = st.lists(st.one_of(st.none(), TEXT), max_size=30)
ITEMS = st.lists(
    st.tuples(st.sampled_from(["#", "@", "?", "a", "张", "-", " ", "."]), st.integers(1, 3)),
    min_size=1,
    max_size=4,
)


def reference(values: pa.Array, spec: str) -> pa.Array:
    """The mask with the match found by RE2 itself, on every value."""
    parsed = parse_mask_spec(spec)
    replaced = pc.replace_substring_regex(values, pattern=parsed.regex,
                                          replacement="*" * parsed.match_chars)  # fmt: skip
    found = pc.or_(pc.match_substring_regex(values, parsed.regex),
                   pc.equal(pc.utf8_length(values), 0))  # fmt: skip
    return pc.if_else(found, replaced, pa.scalar(NO_MATCH, values.type))


@FAST
@given(VALUES, ITEMS, st.booleans(), st.data())
def test_found_as_re2s_own_match(values: list[str | None], items: list[tuple[str, int]],
                                   large: bool, data: st.DataObject) -> None:  # fmt: skip
    spec = "replace:" + "".join(c + (f"{{{n}}}" if n > 1 else "") for c, n in items)
    if len(spec) > MAX_SPEC_CHARS:
        return
    column = pa.array(values, pa.large_string() if large else pa.string())
    start = data.draw(st.integers(0, len(values)))
    for part in (column, column.slice(start)):
        out = mask_array(part, spec)
        out.validate(full=True)
        assert out.type == part.type
        assert out.equals(reference(part, spec))


def test_stars_and_edges() -> None:
    values = ["****", "**", "", None, "12**", "**34", "ab*c", "张*张", "****1234", "１２３４"]
    for spec in ("replace:?{3}", "replace:?", "replace:#{2}", "replace:?#", "replace:#?",
                 "replace:@?", "replace:张?张", "replace:?{2}#{2}"):  # fmt: skip
        column = pa.array(values)
        assert mask_array(column, spec).equals(reference(column, spec)), spec
    out = mask_array(pa.array(values), "replace:?{3}").to_pylist()
    assert out == ["****", NO_MATCH, "", None, "****", "***4", "***c", "***", "******34",
                   "***４"]  # fmt: skip
    out = mask_array(pa.array(values), "replace:?#").to_pylist()
    assert out == [NO_MATCH, NO_MATCH, "", None, "****", "***4", NO_MATCH, NO_MATCH, "*******4",
                   NO_MATCH]  # fmt: skip


def test_chunked_and_empty_columns() -> None:
    chunked = pa.chunked_array([["a1234", None], [], ["", "无数字"]])
    assert mask_array(chunked, "replace:#{4}").to_pylist() == ["a****", None, "", NO_MATCH]
    for empty in (pa.array([], pa.string()), pa.chunked_array([], pa.string())):
        assert mask_array(empty, "replace:#{4}").to_pylist() == []
    assert mask_array(pa.array([None, None], pa.string()), "replace:#").to_pylist() == [None] * 2
