"""One vocabulary: a steward told "this column holds names" gets it masked as names.

The suggestions and the masks once kept their own compound-surname lists (31 and 43,
disagreeing); both now read ``catalog.vocabulary``. Every compound surname is checked
both ways: values starting with it are suggested as names, and every mask path (the
vectorised reference, the small-batch Python path and the native kernel when built)
keeps exactly the two characters of the surname.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from catalog.suggestions import suggest
from catalog.vocabulary import COMPOUND_SURNAMES, SURNAMES, Level, MaskMethod, PICategory
from gateway.enforcement.masking import native, partial, small

GIVEN_NAMES = ("明", "晓燕", "建国")


def test_compound_surnames_are_two_han_characters_and_unique() -> None:
    assert len(set(COMPOUND_SURNAMES)) == len(COMPOUND_SURNAMES) >= 44
    assert all(len(s) == 2 and len(s.encode("utf-8")) == 6 for s in COMPOUND_SURNAMES)
    assert all(len(s) == 1 for s in SURNAMES)


@pytest.mark.parametrize("surname", COMPOUND_SURNAMES)
def test_suggestion_and_mask_agree_on_compound_surname(surname: str) -> None:
    names = [surname + given for given in GIVEN_NAMES]
    found = suggest("c1", "string", names)
    assert (found.pi_category, found.level) == (PICategory.NAME, Level.L3), found.evidence
    expected = [surname + "*" * (len(name) - 2) for name in names]
    values = pa.array(names)
    assert partial.name_surname(values).to_pylist() == expected
    assert [small.name(name) for name in names] == expected
    masked = native.mask_text(values, MaskMethod.NAME_SURNAME, partial.name_surname)
    assert masked.to_pylist() == expected
