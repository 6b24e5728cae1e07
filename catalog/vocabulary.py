"""The classification vocabulary every package shares: levels, personal-information (PI)
categories with their default mask and suggested level, field types, and the surnames
that recognise and mask a Chinese personal name.

One list of each, on purpose: the suggestions (``catalog.suggestions``) and the masks
(``gateway.enforcement.masking``) read the same surnames, so a name the steward was told
is a name is masked as one (``tests/catalog/test_vocabulary.py`` checks every compound
surname both ways).
"""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    """Sensitivity level of a field or dataset; a user's clearance is also a level."""

    L1 = "L1"  # public 公开
    L2 = "L2"  # internal 内部
    L3 = "L3"  # sensitive 敏感
    L4 = "L4"  # restricted 核心/机密

    @property
    def rank(self) -> int:
        return int(self.value[1])


class PICategory(StrEnum):
    """Personal-information category of a field; decides its default mask."""

    ID_NUMBER = "id_number"
    NAME = "name"
    PHONE = "phone"
    BANK_CARD = "bank_card"
    ADDRESS = "address"
    BIRTH_DATE = "birth_date"
    USCC = "uscc"
    FREE_TEXT = "free_text"
    NONE = "none"


class MaskMethod(StrEnum):
    """How a masked field is transformed before it leaves the gateway."""

    ID_NUMBER_PARTIAL = "id_number_partial"
    PHONE_PARTIAL = "phone_partial"
    NAME_SURNAME = "name_surname"
    BANK_CARD_LAST4 = "bank_card_last4"
    ADDRESS_DISTRICT = "address_district"
    BIRTH_DATE_YEAR = "birth_date_year"
    HASH = "hash"
    REDACT = "redact"
    # issue 16: amounts, dates, re-identifiable pseudonyms, steward-defined masks
    # (parameters, where a method takes one, follow a colon: ``catalog.mask_specs``)
    ROUND = "round"
    BUCKET = "bucket"
    DATE_MONTH = "date_month"
    DATE_YEAR = "date_year"
    DATE_SHIFT = "date_shift"
    ID_NUMBER_FPE = "id_number_fpe"
    KEEP_FIRST = "keep_first"
    KEEP_LAST = "keep_last"
    REPLACE = "replace"


DEFAULT_MASK: dict[PICategory, MaskMethod] = {
    PICategory.ID_NUMBER: MaskMethod.ID_NUMBER_PARTIAL,
    PICategory.PHONE: MaskMethod.PHONE_PARTIAL,
    PICategory.NAME: MaskMethod.NAME_SURNAME,
    PICategory.BANK_CARD: MaskMethod.BANK_CARD_LAST4,
    PICategory.ADDRESS: MaskMethod.ADDRESS_DISTRICT,
    PICategory.BIRTH_DATE: MaskMethod.BIRTH_DATE_YEAR,
    PICategory.USCC: MaskMethod.HASH,
    PICategory.FREE_TEXT: MaskMethod.REDACT,
}

FIELD_TYPES = ("string", "int64", "float64", "decimal", "bool", "date", "timestamp")
"""Logical field types the catalog records; adapters map source types onto these."""

SUGGESTED_LEVEL: dict[PICategory, Level] = {
    PICategory.ID_NUMBER: Level.L3,
    PICategory.BANK_CARD: Level.L3,
    PICategory.PHONE: Level.L3,
    PICategory.NAME: Level.L3,
    PICategory.ADDRESS: Level.L3,
    PICategory.BIRTH_DATE: Level.L3,
    PICategory.USCC: Level.L2,
}
"""The level a suggestion proposes for a category (any other: L2); L1 and L4 are only
ever a steward's choice."""

# two characters each (the native mask kernel relies on it: two 3-byte UTF-8 characters);
# the union of the lists the suggestions (31) and the masks (43) used to keep apart
COMPOUND_SURNAMES: tuple[str, ...] = (
    "万俟",
    "上官",
    "东方",
    "东郭",
    "令狐",
    "仲孙",
    "公冶",
    "公孙",
    "公羊",
    "单于",
    "南宫",
    "司寇",
    "司徒",
    "司空",
    "司马",
    "呼延",
    "夏侯",
    "太史",
    "子车",
    "宇文",
    "尉迟",
    "左丘",
    "巫马",
    "慕容",
    "拓跋",
    "欧阳",
    "段干",
    "淳于",
    "澹台",
    "濮阳",
    "独孤",
    "申屠",
    "百里",
    "皇甫",
    "端木",
    "第五",
    "西门",
    "诸葛",
    "谷梁",
    "赫连",
    "轩辕",
    "钟离",
    "长孙",
    "闻人",
)
"""Two-character surnames: a name starting with one keeps both characters when masked."""

SURNAMES: frozenset[str] = frozenset(
    "丁万丛严乔于仇付仲任伍何佘余佟侯俞倪党全兰关冉农冯冷凌刁刘包华卓单卜卞卢卫古史叶司吉向吕"
    "吴周和唐商喻夏姚姜姬娄孔孙孟季宁安宋宗宫寇尚尤尹屈岑岳崔左巩巫师席常庄应庞康廖张彭徐成戚"
    "戴房敖文方施时明易晏景曲曹曾朱李杜杨林柏查柯柳柴栾桂桑梁梅樊欧武段殷毕毛江池汤汪沈沙涂温"
    "游滕潘焦熊牛牟王甄甘田申白盛瞿石祁祝秦程穆窦章童符简管米纪缪罗翁翟耿聂肖胡臧舒艾芦苏苑苗"
    "苟范荣莫葛董蒋蒙蒲蓝蔡薛虞袁裴褚覃解詹许谢谭谷费贺贾赵路车辛边连迟邓邝邢邬邱邵邹郎郑郝郭"
    "金钟钱闫闵阮阳陆陈陶隋雷霍靳韦韩项顾颜饶马骆高魏鲁鲍麦麻黄黎齐龙龚"
)
"""Common one-character surnames: a 2-4 character Han value starting with one (or with a
compound surname) counts as evidence of a name column."""
