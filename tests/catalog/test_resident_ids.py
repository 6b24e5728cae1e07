"""Resident ID detection (issue 16): real-format Jiangsu numbers python-stdnum refuses for
their county code are recognised; a wrong province, birth date or check character is
still refused."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from catalog import resident_ids
from catalog.suggestions import suggest
from catalog.vocabulary import PICategory


def make_id(county: str, born: date, sequence: int) -> str:
    """A number in GB 11643's format with its check character computed."""
    first17 = f"{county}{born:%Y%m%d}{sequence:03d}"
    return first17 + resident_ids.check_character(first17)


# Jiangsu numbers python-stdnum calls invalid: 常熟市 (320581), 张家港市 (320582) and 昆山市
# (320583) are listed only from 1989, 吴中区 (320506) from 2000, so their older residents
# fail; 苏州工业园区 (320571) is not listed at all
JIANGSU = [
    make_id("320581", date(1962, 3, 15), 21),
    make_id("320581", date(1978, 11, 2), 104),
    make_id("320582", date(1985, 7, 30), 317),
    make_id("320583", date(1970, 1, 1), 9),
    make_id("320506", date(1990, 12, 31), 442),
    make_id("320571", date(1995, 6, 18), 58),
    make_id("320571", date(2001, 2, 28), 603),
]
LISTED = [  # counties python-stdnum lists for these birth years
    make_id("320581", date(1992, 4, 5), 12),
    make_id("320106", date(1985, 8, 8), 77),
    make_id("110105", date(1949, 12, 31), 2),
]


def _stdnum_accepts(number: str) -> bool:
    """python-stdnum's verdict; for a code it lists under its province but without a
    county (320571) ``is_valid`` does not even answer: it raises ``KeyError``."""
    try:
        return ric.is_valid(number)
    except KeyError:
        return False


def test_the_jiangsu_numbers_are_ones_stdnum_refuses() -> None:
    """The premise: python-stdnum's own check refuses (or fails on) every one of them."""
    assert not any(_stdnum_accepts(number) for number in JIANGSU)
    assert all(_stdnum_accepts(number) for number in LISTED)
    with pytest.raises(KeyError):
        ric.is_valid(JIANGSU[-1])


@pytest.mark.parametrize("number", JIANGSU + LISTED)
def test_valid_numbers_are_resident_ids(number: str) -> None:
    assert resident_ids.problem(number) is None


def test_a_column_of_jiangsu_numbers_is_suggested_as_id_numbers() -> None:
    suggestion = suggest("remark", "string", JIANGSU)
    assert suggestion.pi_category is PICategory.ID_NUMBER
    (evidence,) = suggestion.evidence
    assert f"{len(JIANGSU)}/{len(JIANGSU)} valid resident ID numbers" in evidence
    # 320581/2/3 and 320506 are listed (for later years), 320571 is not
    assert "county code listed by python-stdnum for 5/7" in evidence


def test_an_unlisted_county_is_evidence_not_a_veto() -> None:
    unlisted = [n for n in JIANGSU if n.startswith("320571")]
    weaker = suggest("c", "string", unlisted)
    stronger = suggest("c", "string", LISTED)
    assert weaker.pi_category is stronger.pi_category is PICategory.ID_NUMBER
    assert weaker.confidence < stronger.confidence == 1.0
    assert "listed by python-stdnum for 0/2" in weaker.evidence[0]


def test_lower_case_check_character_is_accepted() -> None:
    number = next(n for n in (make_id("320581", date(1970, 5, d), 1) for d in range(1, 29))
                  if n.endswith("X"))  # fmt: skip
    assert resident_ids.is_resident_id(number.lower())


def _with_check(first17: str) -> str:
    return first17 + resident_ids.check_character(first17)


REFUSED = [
    ("wrong check character", JIANGSU[0][:17] + ("0" if JIANGSU[0][17] != "0" else "1"),
     "checksum"),
    ("no such day", _with_check("320581" + "19900230" + "123"), "birth_date"),
    ("month 13", _with_check("320581" + "19901301" + "123"), "birth_date"),
    ("born before 1900", _with_check("320581" + "18991231" + "123"), "birth_date"),
    # after today, for as long as this suite lives: "tomorrow" was computed when the module
    # was collected, and a run crossing midnight UTC then found it valid
    ("born in the future", _with_check("320581" + "20991231" + "123"), "birth_date"),
    ("no province 99", _with_check("990581" + "19900101" + "123"), "province"),
    ("no province 10", _with_check("100581" + "19900101" + "123"), "province"),
    ("no province 00", _with_check("000000" + "19900101" + "123"), "province"),
    ("17 characters", JIANGSU[0][:17], "shape"),
    ("letter inside", "3205811962A3150210", "shape"),
    ("X not last", "32058119621X150210", "shape"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "number", "why"), REFUSED, ids=[c[0] for c in REFUSED])
def test_invalid_numbers_are_refused(case: str, number: str, why: str) -> None:
    assert resident_ids.problem(number) == why
    assert suggest("c", "string", [number] * 5).pi_category is not PICategory.ID_NUMBER


def test_a_column_with_bad_check_characters_is_not_ids() -> None:
    broken = [n[:17] + ("1" if n[17] == "0" else "0") for n in JIANGSU]
    assert suggest("c", "string", broken).pi_category is PICategory.NONE


counties = st.sampled_from(["320581", "320571", "320583", "110105", "440106", "650102"])
births = st.dates(min_value=resident_ids.EARLIEST_BIRTH, max_value=date.today())


@given(county=counties, born=births, sequence=st.integers(0, 999))
def test_every_well_formed_number_is_accepted(county: str, born: date, sequence: int) -> None:
    number = make_id(county, born, sequence)
    assert resident_ids.is_resident_id(number)
    # the check character is the one python-stdnum computes too (same MOD 11-2)
    assert number[17] == ric.calc_check_digit(number)


@given(county=counties, born=births, sequence=st.integers(0, 999),
       wrong=st.sampled_from("0123456789X"))  # fmt: skip
def test_every_other_check_character_is_refused(
    county: str, born: date, sequence: int, wrong: str
) -> None:
    number = make_id(county, born, sequence)
    if wrong != number[17]:
        assert resident_ids.problem(number[:17] + wrong) == "checksum"


def test_county_known() -> None:
    assert resident_ids.county_known("110105194912310021")
    assert resident_ids.county_known("320581196203150210")  # listed (from 1989)
    assert not resident_ids.county_known("320571199506180581")
