"""Classification vocabulary shared by every package: levels and personal-information categories."""

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
