"""Classification suggestions: every detector accepted and refused, hints, precedence."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from catalog.suggestions import suggest
from catalog.vocabulary import Level, PICategory

VALID_IDS = ["11010519491231002X", "440106198708123455", "110101199003074477"]
BAD_CHECKSUM_IDS = ["110105194912310021", "440106198708123456", "110101199003074478"]
PHONES = ["13800138000", "15912345678", "+86 186-1234-5678"]
CARDS = ["4111111111111111", "5500005555555559", "6011000990139424"]
USCCS = ["91110000600037341L", "91310000775785552L", "91440300708461136T"]
NAMES = ["张伟", "欧阳娜娜", "王秀英", "李明"]
ADDRESSES = [
    "北京市朝阳区建国路88号",
    "广东省深圳市南山区科技园路1号",
    "浙江省杭州市西湖区文三路90号",
]

CASES: list[tuple[str, str, str, list[Any], PICategory]] = [
    # (case, column name, logical type, sample values, expected category)
    ("id by values", "c1", "string", VALID_IDS, PICategory.ID_NUMBER),
    ("bad checksum ids are not ids", "c1", "string", BAD_CHECKSUM_IDS, PICategory.NONE),
    ("phone by values", "c2", "string", PHONES, PICategory.PHONE),
    ("phone stored as int", "c2", "int64", [13800138000, 13912345678], PICategory.PHONE),
    ("11 digits not a mobile", "c2", "string", ["12800138000", "10012345678"], PICategory.NONE),
    ("card by luhn", "c3", "string", CARDS, PICategory.BANK_CARD),
    (
        "card failing luhn",
        "c3",
        "string",
        ["4111111111111112", "5500005555555550"],
        PICategory.NONE,
    ),
    ("uscc by checksum", "c4", "string", USCCS, PICategory.USCC),
    ("uscc bad checksum", "c4", "string", ["91110000600037341M"], PICategory.NONE),
    ("chinese names", "c5", "string", NAMES, PICategory.NAME),
    ("not names", "c5", "string", ["苹果手机", "的确不错", "ok"], PICategory.NONE),
    ("addresses", "c6", "string", ADDRESSES, PICategory.ADDRESS),
    ("not addresses", "c6", "string", ["今天天气很好啊", "通过"], PICategory.NONE),
    (
        "birth dates",
        "c7",
        "date",
        [date(1978, 5, 1), date(1990, 1, 2), date(1965, 12, 3)],
        PICategory.BIRTH_DATE,
    ),
    ("birth dates as text", "c7", "string", ["1978-05-01", "19900102"], PICategory.BIRTH_DATE),
    ("recent event dates", "c7", "date", [date.today(), date(2024, 1, 5)], PICategory.NONE),
    ("amounts", "amount", "float64", [12.5, 99.0, 1000.25], PICategory.NONE),
    # name hints when no sample is available
    ("hint sfzh", "sfzh", "string", [], PICategory.ID_NUMBER),
    ("hint id_card", "id_card", "string", [], PICategory.ID_NUMBER),
    ("hint idCardNo", "idCardNo", "string", [], PICategory.ID_NUMBER),
    ("hint 身份证号", "身份证号", "string", [], PICategory.ID_NUMBER),
    ("hint phone", "phone", "string", [], PICategory.PHONE),
    ("hint 手机号", "手机号", "string", [], PICategory.PHONE),
    ("hint 电话", "联系电话", "string", [], PICategory.PHONE),
    ("hint bank_card", "bank_card", "string", [], PICategory.BANK_CARD),
    ("hint 银行卡号", "银行卡号", "string", [], PICategory.BANK_CARD),
    ("hint name", "name", "string", [], PICategory.NAME),
    ("hint contact_name", "contact_name", "string", [], PICategory.NAME),
    ("company_name is not a person", "company_name", "string", [], PICategory.NONE),
    ("hint 姓名", "姓名", "string", [], PICategory.NAME),
    ("hint address", "home_address", "string", [], PICategory.ADDRESS),
    ("hint 地址", "家庭地址", "string", [], PICategory.ADDRESS),
    ("hint birth", "birth_date", "date", [], PICategory.BIRTH_DATE),
    ("hint 出生日期", "出生日期", "date", [], PICategory.BIRTH_DATE),
    ("hint uscc", "uscc", "string", [], PICategory.USCC),
    ("hint 统一社会信用代码", "统一社会信用代码", "string", [], PICategory.USCC),
    ("no hint in hotel", "hotel", "string", [], PICategory.NONE),
    # value evidence beats a misleading name
    ("values beat hint", "phone", "string", VALID_IDS, PICategory.ID_NUMBER),
    ("ids hiding in remark", "remark", "string", VALID_IDS, PICategory.ID_NUMBER),
]


@pytest.mark.parametrize(
    ("column", "logical_type", "values", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_suggest(column: str, logical_type: str, values: list[Any], expected: PICategory) -> None:
    suggestion = suggest(column, logical_type, values)
    assert suggestion.pi_category is expected
    if expected is not PICategory.NONE:
        assert suggestion.evidence


@pytest.mark.parametrize(
    ("category", "level"),
    [
        (PICategory.ID_NUMBER, Level.L3),
        (PICategory.PHONE, Level.L3),
        (PICategory.BANK_CARD, Level.L3),
        (PICategory.NAME, Level.L3),
        (PICategory.ADDRESS, Level.L3),
        (PICategory.BIRTH_DATE, Level.L3),
        (PICategory.USCC, Level.L2),
    ],
)
def test_levels(category: PICategory, level: Level) -> None:
    column = {c[4]: c for c in CASES if c[3]}[category]
    assert suggest(column[1], column[2], column[3]).level is level


def test_hint_contradicted_by_values_is_kept_with_low_confidence() -> None:
    suggestion = suggest("sfzh", "string", BAD_CHECKSUM_IDS)
    assert suggestion.pi_category is PICategory.ID_NUMBER
    assert suggestion.confidence < 0.5
    assert any("none of 3" in e for e in suggestion.evidence)


def test_values_and_hint_agree_gives_full_confidence() -> None:
    suggestion = suggest("sfzh", "string", VALID_IDS)
    assert suggestion.confidence == 1.0
    assert len(suggestion.evidence) == 2


def test_nulls_and_one_outlier_tolerated() -> None:
    values: list[Any] = [*PHONES, None, "", "13700000000", "13700000001", "n/a"]
    assert suggest("c", "string", values).pi_category is PICategory.PHONE


def test_no_evidence_is_internal_none() -> None:
    suggestion = suggest("status", "string", ["open", "closed"])
    assert (suggestion.pi_category, suggestion.level, suggestion.confidence) == (
        PICategory.NONE,
        Level.L2,
        0.0,
    )
