"""Small arrays masked in plain Python, one value at a time, with exactly the answers of
the vectorised masks (``partial``, ``address``, ``tokens``).

Why: a governed query typically returns ~20 rows. The vectorised masks make several
Arrow (or native-kernel) calls per column, each with a fixed overhead, which on 20 values
can cost more than doing the work per value in Python. How much, and up to how many
values, moves with every pyarrow and every kernel change, so the figures are not kept
here: ``python -m bench.masking_design`` prints, per method, vectorised over per-value
time at 20 values and at ``SMALL_MAX``, and the size where the vectorised mask starts
to win. Re-tune ``SMALL_MAX`` from it (only speed depends on it, never an answer).

Exactness is the rule, so each function here answers only where its answer is certainly
the vectorised one, and returns ``None`` (``UNSURE``) otherwise; one unsure value sends
the whole array to the vectorised path. What is decided here:

- ID numbers, bank cards, phones: ASCII digit tests and slicing, as the fast paths; the
  phone patterns in Python's ``re`` with ``re.ASCII`` (``\\d`` is ``[0-9]`` as in RE2)
  and ``fullmatch`` (RE2's ``$`` is end of text, Python's also matches before a final
  newline).
- Names: only names whose characters are all in U+4E00–U+9FA5 (the CJK block of
  Unicode 1.1: letters and Han in every Unicode version Python, utf8proc and RE2 may
  use), optionally with the middle dots; anything else (other scripts, rare or newer
  characters, over 32 characters) is unsure.
- Addresses: the same pattern, with RE2's ``\\s`` spelled out (``[\\t\\n\\f\\r ]``: RE2's
  ``\\s`` is ASCII-only, Python's is not).
- Dates as text: a value the date pattern matches always keeps its first 4 characters
  (the strict fast path and the pattern agree there); 8 digits that form a real date
  (years 1000–9999) take the fast path; any other 8- or 10-byte value depends on Arrow's
  ``strptime`` and is unsure. Date columns give ``str(year)``.
- ``hash``: ``HmacTokens.token``, the same HMAC as the vectorised path.

``tests/gateway/enforcement/masking/test_masking_small.py`` checks values, nulls and
types against the vectorised path for every method (hypothesis, CJK text, the demo data).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

import pyarrow as pa

from catalog.vocabulary import COMPOUND_SURNAMES, MaskMethod
from gateway.enforcement.masking.address import ADDRESS_MASK
from gateway.enforcement.masking.partial import (
    DATE_PATTERNS,
    MAX_NAME_CHARS,
    MOBILE_PATTERNS,
    NAME_DOTS,
)
from gateway.enforcement.masking.tokens import hmac_tokens

# at most this many values take the Python path: a compromise between the methods'
# crossovers with the vectorised masks, which bench.masking_design measures
SMALL_MAX = 128
UNSURE = None

ValueMask = Callable[[str], str | None]

_ID_STARS = {18: "*" * 8, 15: "*" * 5}
_MOBILE = [re.compile(p, re.ASCII) for p in MOBILE_PATTERNS]
_HAN = "\u4e00-\u9fa5"
_PLAIN_NAME = re.compile(f"[{_HAN}]+")
_DOTTED_NAME = re.compile(f"[{_HAN}][{_HAN}]*(?:[{NAME_DOTS}][{_HAN}]+)+")
_NAME_ALPHABET = re.compile(f"[{_HAN}{NAME_DOTS}]+")
_COMPOUND = frozenset(COMPOUND_SURNAMES)
_DATE = re.compile(DATE_PATTERNS[0], re.ASCII)
_UNIT = r"[^省市区县旗州盟\t\n\f\r ]"  # ADDRESS_PATTERN's unit, RE2's \s spelled out
_ADDRESS = re.compile(
    rf"(?:{_UNIT}+(?:省|自治区|特别行政区))?"
    rf"(?:{_UNIT}+(?:市|自治州|地区|盟))?"
    rf"{_UNIT}+(?:自治县|自治旗|区|县|旗|市)"
)


def _whole(value: str) -> str:
    return "*" * len(value)


def _ascii_digits(value: str) -> bool:
    """Arrow's ``ascii_is_decimal`` for a non-empty value."""
    return value.isascii() and value.isdigit()


def id_number(value: str) -> str | None:
    """``partial.id_number_partial`` of one value."""
    size = len(value)
    if value.isascii() and (
        (size == 18 and len(trimmed := value.rstrip("Xx")) >= 17 and trimmed.isdigit())
        or (size == 15 and value.isdigit())
    ):
        return value[:6] + _ID_STARS[size] + value[-4:]
    return _whole(value)


def phone(value: str) -> str | None:
    """``partial.phone_partial`` of one value."""
    if len(value) == 11 and value[:1] == "1" and _ascii_digits(value):
        return value[:3] + "****" + value[7:]
    for pattern in _MOBILE:
        match = pattern.fullmatch(value)
        if match:
            return match["head"] + "*" * len(match["hide"]) + match["tail"]
    return _whole(value)


def bank_card(value: str) -> str | None:
    """``partial.bank_card_last4`` of one value."""
    if 12 <= len(value) <= 19 and _ascii_digits(value):
        return "*" * (len(value) - 4) + value[-4:]
    return _whole(value)


def name(value: str) -> str | None:
    """``partial.name_surname`` of one value, for names in the safe Han block."""
    if not value:
        return ""
    if not _NAME_ALPHABET.fullmatch(value):
        return UNSURE
    size = len(value)
    if _PLAIN_NAME.fullmatch(value):
        if size == 1:
            return "*"  # too short for the fast path, no pattern matches: masked whole
        if size > MAX_NAME_CHARS:
            return UNSURE
        kept = 2 if size > 2 and value[:2] in _COMPOUND else 1
        return value[:kept] + "*" * (size - kept)
    # with a middle dot: the first pattern keeps the first character, else masked whole
    return value[0] + "*" * (size - 1) if _DOTTED_NAME.fullmatch(value) else _whole(value)


def address(value: str) -> str | None:
    """``address.address_district`` of one value."""
    match = _ADDRESS.match(value)
    if match:
        return match[0] + ADDRESS_MASK
    return ADDRESS_MASK if value else ""


def birth_year(value: str) -> str | None:
    """``partial.birth_date_year`` of one date as text."""
    if _DATE.fullmatch(value):
        return value[:4]
    if not value:
        return ""
    nbytes = len(value.encode("utf-8"))
    if nbytes == 8 and _ascii_digits(value):
        year, month, day = int(value[:4]), int(value[4:6]), int(value[6:])
        try:
            datetime.date(year, month, day)
        except ValueError:
            return UNSURE
        return value[:4] if year >= 1000 else UNSURE
    if nbytes in (8, 10):
        return UNSURE  # Arrow's strptime decides
    return _whole(value)


TEXT_VALUE_MASKS: dict[str, ValueMask] = {
    MaskMethod.ID_NUMBER_PARTIAL: id_number,
    MaskMethod.PHONE_PARTIAL: phone,
    MaskMethod.NAME_SURNAME: name,
    MaskMethod.BANK_CARD_LAST4: bank_card,
    MaskMethod.ADDRESS_DISTRICT: address,
    MaskMethod.BIRTH_DATE_YEAR: birth_year,
}


def mask_values(values: list[str | None], mask: ValueMask) -> list[str | None] | None:
    out: list[str | None] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        masked = mask(value)
        if masked is UNSURE:
            return None
        out.append(masked)
    return out


def mask_small_text(values: pa.Array, method: str, hash_key: bytes | None) -> pa.Array | None:
    """``method`` on a short ``string``/``large_string`` array; None when a value needs
    the vectorised path (or the method is not one of the text masks here)."""
    listed: list[str | None] = values.to_pylist()
    if method == MaskMethod.HASH:
        if hash_key is None:
            return None
        return pa.array(hmac_tokens(hash_key).tokens(listed), pa.string())
    mask = TEXT_VALUE_MASKS.get(method)
    if mask is None:
        return None
    out = mask_values(listed, mask)
    return None if out is None else pa.array(out, values.type)


def birth_year_of_dates(values: pa.Array) -> pa.Array | None:
    """``birth_date_year`` of a short ``date32``/``date64`` array (``str(year)``, as
    ``pc.year(...).cast(pa.string())``); None for other types or unrepresentable dates."""
    if not pa.types.is_date(values.type):
        return None
    try:
        dates: list[datetime.date | None] = values.to_pylist()
    except (ValueError, OverflowError):
        return None
    return pa.array([None if d is None else str(d.year) for d in dates], pa.string())
