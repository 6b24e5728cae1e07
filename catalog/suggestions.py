"""Classification suggestions for one column, from its name and a bounded sample.

Why both: names lie (``remark`` holding ID numbers) and values can be ambiguous
(18 digits are an ID number only if the checksum, birth date and province hold), so
validated value evidence decides when it exists and name hints fill in otherwise.
A steward accepts or corrects every suggestion before publishing; the catalog keeps
both (``Field.suggested_*`` and the final ``level``/``pi_category``).

Order of the value detectors matters: the strictest checks run first (resident ID
with checksum before USCC before bank card by Luhn), so an 18-digit ID number that
also happens to pass Luhn is reported as an ID number.

Levels (kept simple on purpose): personal categories (id_number, bank_card, phone,
name, address, birth_date) are L3 sensitive; uscc (a public company code) is L2;
everything else defaults to L2 internal. L1 and L4 are only ever a steward's choice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from stdnum import luhn
from stdnum.cn import uscc

from catalog import resident_ids
from catalog.vocabulary import COMPOUND_SURNAMES, SUGGESTED_LEVEL, SURNAMES, Level, PICategory

MATCH_RATIO = 0.8
"""Share of non-empty sampled values a detector must accept to count as evidence."""


@dataclass(frozen=True)
class Suggestion:
    """A proposed PI category and level, how sure we are (0..1) and why."""

    pi_category: PICategory
    level: Level
    confidence: float
    evidence: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "pi_category": self.pi_category.value,
            "level": self.level.value,
            "confidence": round(self.confidence, 2),
            "evidence": list(self.evidence),
        }


NONE = Suggestion(PICategory.NONE, Level.L2, 0.0, ())

# --- value detectors -------------------------------------------------------------

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_DIGITS = re.compile(r"^\d{16,19}$")
_CJK_NAME = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
_ADDRESS_MARKERS = re.compile(r"省|市|自治区|区|县|旗|镇|乡|街道|村|路|街|巷|道|号|弄|室|栋|楼")
_DATE_TEXT = re.compile(r"^(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?$")


def _text(value: Any) -> str | None:
    """Normalise a sampled value to text; numbers keep their digits (phones stored as int)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else None
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        return text or None
    return None


def _is_id_number(text: str) -> bool:
    """Province prefix, birth date and check character (GB 11643); the county code is
    evidence, not a condition (``catalog.resident_ids``)."""
    return resident_ids.is_resident_id(text)


def _county_evidence(texts: list[str], ratio: float) -> tuple[float, str]:
    """The confidence of an ID-number column and the words for its evidence: county codes
    python-stdnum lists corroborate (up to +0.1), unlisted ones (new counties, development
    zones, codes used before the list's start year) never veto."""
    ids = [text.strip().upper() for text in texts if _is_id_number(text)]
    known = sum(1 for number in ids if resident_ids.county_known(number))
    confidence = 0.6 + ratio * (0.3 + 0.1 * known / len(ids))
    return confidence, f"; county code listed by python-stdnum for {known}/{len(ids)}"


def _is_phone(text: str) -> bool:
    compact = re.sub(r"[\s-]", "", text)
    compact = compact.removeprefix("+86").removeprefix("0086")
    return bool(_MOBILE.match(compact))


def _is_bank_card(text: str) -> bool:
    compact = re.sub(r"[\s-]", "", text)
    return bool(_DIGITS.match(compact)) and luhn.is_valid(compact)


def _is_uscc(text: str) -> bool:
    return len(text) == 18 and uscc.is_valid(text)


def _is_name(text: str) -> bool:
    if not _CJK_NAME.match(text):
        return False
    if any(text.startswith(s) for s in COMPOUND_SURNAMES):
        return len(text) >= 3
    return text[0] in SURNAMES


def _is_address(text: str) -> bool:
    if len(text) < 6 or not re.search(r"[\u4e00-\u9fff]", text):
        return False
    return len(set(_ADDRESS_MARKERS.findall(text))) >= 2


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if text is None:
        return None
    match = _DATE_TEXT.match(text)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


Detector = tuple[PICategory, str, Callable[[str], bool]]
DETECTORS: tuple[Detector, ...] = (
    (
        PICategory.ID_NUMBER,
        "valid resident ID numbers (province, birth date, checksum)",
        _is_id_number,
    ),
    (PICategory.USCC, "valid unified social credit codes (checksum)", _is_uscc),
    (PICategory.PHONE, "mainland mobile numbers", _is_phone),
    (PICategory.BANK_CARD, "16-19 digit card numbers passing Luhn", _is_bank_card),
    (PICategory.NAME, "Chinese personal names (known surname, 2-4 characters)", _is_name),
    (PICategory.ADDRESS, "Chinese addresses (省/市/区/县/路/号 markers)", _is_address),
)


def _birth_dates(values: Sequence[Any]) -> tuple[int, int]:
    """(plausible birth dates, non-empty values): a birth date is a past date whose
    holder would be 0-110 today; a column counts only if most people are adults,
    which keeps recent event dates (orders, filings) out."""
    today = date.today()
    parsed = [d for d in (_as_date(v) for v in values) if d is not None]
    plausible = [d for d in parsed if today.year - 110 <= d.year and d <= today]
    adults = [d for d in plausible if today.year - d.year >= 16]
    if not plausible or len(adults) < len(plausible) / 2:
        return 0, len(parsed)
    return len(plausible), len(parsed)


def _from_values(values: Sequence[Any]) -> Suggestion | None:
    texts = [t for t in (_text(v) for v in values) if t is not None]
    non_empty = [v for v in values if v is not None and v != ""]
    for category, label, accepts in DETECTORS:
        if not texts:
            break
        hits = sum(1 for t in texts if accepts(t))
        if hits and hits / len(texts) >= MATCH_RATIO:
            ratio = hits / len(texts)
            confidence, more = 0.6 + 0.4 * ratio, ""
            if category is PICategory.ID_NUMBER:
                confidence, more = _county_evidence(texts, ratio)
            return Suggestion(
                category,
                SUGGESTED_LEVEL[category],
                confidence,
                (f"values: {hits}/{len(texts)} {label}{more}",),
            )
    hits, total = _birth_dates(non_empty)
    if total and hits / len(non_empty) >= MATCH_RATIO:
        return Suggestion(
            PICategory.BIRTH_DATE,
            Level.L3,
            0.5,
            (f"values: {hits}/{len(non_empty)} plausible dates of birth (weak evidence)",),
        )
    return None


# --- name hints ---------------------------------------------------------------------

_PERSON_WORDS = frozenset(
    [
        "person",
        "real",
        "full",
        "contact",
        "holder",
        "owner",
        "applicant",
        "customer",
        "resident",
        "patient",
        "citizen",
        "payee",
        "payer",
        "recipient",
        "user",
        "member",
        "employee",
        "staff",
        "legal",
        "representative",
        "account",
    ]
)
HINTS: tuple[tuple[PICategory, tuple[str, ...], tuple[str, ...]], ...] = (
    # (category, whole-token hints, substrings for names written in Chinese)
    (
        PICategory.ID_NUMBER,
        (
            "sfzh",
            "sfz",
            "sfzhm",
            "zjhm",
            "id_card",
            "idcard",
            "id_card_no",
            "idcardno",
            "id_no",
            "id_number",
            "idno",
            "citizen_id",
            "resident_id",
            "identity_no",
        ),
        ("身份证", "证件号"),
    ),
    (
        PICategory.USCC,
        ("uscc", "tyshxydm", "credit_code", "social_credit_code", "unified_social_credit_code"),
        ("统一社会信用代码", "信用代码"),
    ),
    (
        PICategory.PHONE,
        ("phone", "mobile", "tel", "telephone", "cellphone", "sjh", "sjhm", "lxdh", "dh"),
        ("手机", "电话", "联系方式"),
    ),
    (
        PICategory.BANK_CARD,
        (
            "bank_card",
            "bankcard",
            "card_no",
            "cardno",
            "card_number",
            "yhkh",
            "bank_account",
            "account_no",
            "acct_no",
        ),
        ("银行卡", "卡号", "银行账号"),
    ),
    (
        PICategory.BIRTH_DATE,
        ("birth", "birthday", "birth_date", "date_of_birth", "dob", "csrq", "born"),
        ("出生",),
    ),
    (
        PICategory.ADDRESS,
        ("address", "addr", "dz", "zz", "jtzz", "hjdz", "domicile", "residence"),
        ("地址", "住址", "户籍地", "居住地"),
    ),
    (PICategory.NAME, ("xm", "xingming"), ("姓名", "户主", "联系人")),
)


def _tokens(column_name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", column_name)
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def _from_name(column_name: str) -> Suggestion | None:
    tokens = _tokens(column_name)
    joined = f"_{'_'.join(tokens)}_"
    for category, words, chinese in HINTS:
        for word in words:
            if f"_{word}_" in joined:
                level = SUGGESTED_LEVEL[category]
                return Suggestion(category, level, 0.6, (f"name hint {word!r}",))
        for fragment in chinese:
            if fragment in column_name:
                level = SUGGESTED_LEVEL[category]
                return Suggestion(category, level, 0.6, (f"name hint {fragment!r}",))
    # "name" alone, or a person's name ("contact_name"), but not "company_name"
    if tokens and tokens[-1] == "name" and (len(tokens) == 1 or tokens[-2] in _PERSON_WORDS):
        return Suggestion(PICategory.NAME, Level.L3, 0.5, ("name hint 'name'",))
    return None


def suggest(column_name: str, logical_type: str, sample_values: Sequence[Any]) -> Suggestion:
    """Propose a PI category and level for one column. Validated value evidence beats
    a name hint; a hint that values contradict is kept (over-classifying is the safe
    error, and the steward decides) but with its confidence lowered."""
    by_values = _from_values(sample_values) if logical_type not in ("bool",) else None
    by_name = _from_name(column_name)
    if by_values is not None:
        if by_name is not None and by_name.pi_category == by_values.pi_category:
            evidence = by_values.evidence + by_name.evidence
            return Suggestion(by_values.pi_category, by_values.level, 1.0, evidence)
        return by_values
    if by_name is not None:
        sampled = [v for v in sample_values if v is not None and v != ""]
        if sampled and by_name.pi_category is not PICategory.BIRTH_DATE:
            return Suggestion(
                by_name.pi_category,
                by_name.level,
                0.3,
                (*by_name.evidence, f"but none of {len(sampled)} sampled values validated"),
            )
        return by_name
    return NONE


class Classified(Protocol):
    """A catalog field as classified by its steward, beside what was suggested."""

    name: str
    level: str
    pi_category: str
    suggested_level: str | None
    suggested_pi_category: str | None


def below_suggestion(fields: Iterable[Classified]) -> list[dict[str, str]]:
    """Fields the steward classified below what was suggested *from evidence* (a
    personal-information category found in the name or the values): below the suggested
    level, or with no category at all — what masks a field is its category, and one at
    the analyst's clearance with none is shown in clear (docs/policies.md, rules 4 and 5:
    an ID-number field kept at L3 with its category dropped went to every L3 analyst in
    clear, and no alert said so, red team 63). The audit event of a publication records
    them and the ``below_suggested_level`` alert reads them. A field with no evidence
    (category ``none``: the default L2) is a steward's call, not a downgrade, so it is
    not listed."""
    out = []
    none = PICategory.NONE.value
    for field in fields:
        suggested, category = field.suggested_level, field.suggested_pi_category
        if not suggested or category in (None, "", none):
            continue
        found = {"field": field.name, "level": field.level, "suggested_level": suggested}
        if field.pi_category in (None, "", none):
            out.append({**found, "pi_category": none, "suggested_pi_category": category})
        elif Level(field.level).rank < Level(suggested).rank:
            out.append(found)
    return out
