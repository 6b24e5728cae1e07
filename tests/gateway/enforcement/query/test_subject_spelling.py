"""The subject tokens' canonical spelling: the column path (``canonical_column``, a regex
pass and the odd values re-spelt in Python) spells each ID number as the one-value path
(``canonical_id_number``) does, so a person has one token whichever path read them."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from gateway.enforcement.query.subjects import canonical_column, canonical_id_number

# what clerks type into an ID-number column: digits, the check letter either case, and
# white space of every kind Python's str.split() knows (the ideographic space included)
SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000"
)
TYPED = st.text(alphabet="0123456789Xx" + SPACES, max_size=24)


@given(st.lists(st.one_of(st.none(), TYPED), max_size=40))
def test_the_column_spells_each_value_as_one_value_is_spelt(values: list[str | None]) -> None:
    spelt = canonical_column(pa.array(values, pa.string())).to_pylist()
    assert spelt == [None if v is None else canonical_id_number(v) for v in values]


def test_canonical_values_pass_unchanged() -> None:
    column = pa.array(["11010119900101123X", None, "430121198512120011"], pa.string())
    assert canonical_column(column) is column
