"""Resident identity numbers (居民身份证号码, GB 11643-1999) as evidence for a steward.

Why not ``stdnum.cn.ric.is_valid`` alone: it also demands that the six-digit county code
be in python-stdnum's copy of GB/T 2260 *for the holder's birth year*, and that list
trails reality — counties are created, merged and renamed, numbers keep the code they
were issued under, and development zones issue codes of their own. 320581 (常熟市, a
county-level city since 1983) is listed only from 1989, so everyone born there before
1989 was "invalid"; 320571 (苏州工业园区) is not listed at all. A steward's column of
real Jiangsu numbers was therefore not recognised, and an ID column left unclassified
is the dangerous error.

So what decides is what the standard itself makes checkable: the province prefix (one of
the province-level codes), a real birth date, and the ISO 7064 MOD 11-2 check character.
Whether the county code is in python-stdnum's list is reported beside the verdict
(``county_known``), as evidence that raises confidence, never as a veto.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from stdnum import numdb

# GB/T 2260 province-level divisions: the 31 of the mainland, Taiwan (71), Hong Kong (81)
# and Macao (82); 83 is what residence permits of Taiwan residents carry (830000, since
# 2018, issued under GB 11643), as 810000 and 820000 are for Hong Kong and Macao residents.
PROVINCES: frozenset[str] = frozenset({
    "11", "12", "13", "14", "15",  # 北京 天津 河北 山西 内蒙古
    "21", "22", "23",  # 辽宁 吉林 黑龙江
    "31", "32", "33", "34", "35", "36", "37",  # 上海 江苏 浙江 安徽 福建 江西 山东
    "41", "42", "43", "44", "45", "46",  # 河南 湖北 湖南 广东 广西 海南
    "50", "51", "52", "53", "54",  # 重庆 四川 贵州 云南 西藏
    "61", "62", "63", "64", "65",  # 陕西 甘肃 青海 宁夏 新疆
    "71", "81", "82", "83",  # 台湾 香港 澳门, residence permits of Taiwan residents
})  # fmt: skip
# ISO 7064 MOD 11-2 as GB 11643 writes it: weight of each of the first 17 digits, and the
# check character for each remainder of the weighted sum modulo 11
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"
EARLIEST_BIRTH = date(1900, 1, 1)

_SHAPE = re.compile(r"^\d{17}[\dX]$")


def check_character(first17: str) -> str:
    """The 18th character GB 11643 computes for the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


def birth_date(number: str) -> date | None:
    """The birth date digits 7-14 name, or ``None`` if they name no calendar day."""
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def problem(text: str, *, today: date | None = None) -> str | None:
    """Why ``text`` is not a resident ID number (``None`` when it is one): the shape,
    the province prefix, the birth date (a real day from 1900 up to ``today``) and the
    check character, in that order. The county code is deliberately not checked here."""
    number = text.strip().upper()
    if not _SHAPE.match(number):
        return "shape"
    if number[:2] not in PROVINCES:
        return "province"
    born = birth_date(number)
    if born is None or not EARLIEST_BIRTH <= born <= (today or date.today()):
        return "birth_date"
    if number[17] != check_character(number[:17]):
        return "checksum"
    return None


def is_resident_id(text: str, *, today: date | None = None) -> bool:
    return problem(text, today=today) is None


@lru_cache(maxsize=4096)
def county_known(number: str) -> bool:
    """Whether python-stdnum's GB/T 2260 list names the county code (in any year): a
    listed code is corroborating evidence; an unlisted one proves nothing either way."""
    found = numdb.get("cn/loc").info(number[:6])
    return any("county" in props for _part, props in found)
