"""The partial masks of DESIGN.md (ID numbers, phones, names, bank cards, addresses,
birth dates), vectorised. Expected outputs, edge cases included, are pinned by
``tests/gateway/enforcement/masking/data/masking_vectors.json``.

Every function takes a UTF-8 string array and returns one of the same type; nulls stay
null; ``""`` stays ``""`` (nothing to hide); any value not of the expected shape is
masked whole (``*`` per character, ``****`` for addresses).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from catalog.vocabulary import COMPOUND_SURNAMES
from gateway.enforcement.masking.address import address_district
from gateway.enforcement.masking.kernels import compose, extract_masked, replace_by_length

NAME_DOTS = "·・•‧"
MAX_NAME_CHARS = 32


def _bytes_len(values: pa.Array) -> pa.Array:
    return pc.binary_length(values)


def id_number_partial(values: pa.Array) -> pa.Array:
    """18-digit (last may be X) and 15-digit ID numbers keep first 6 and last 4."""
    blen = _bytes_len(values)
    trimmed = pc.ascii_rtrim(values, characters="Xx")
    ok18 = pc.and_(
        pc.equal(blen, 18),
        pc.and_(pc.ascii_is_decimal(trimmed), pc.greater_equal(_bytes_len(trimmed), 17)),
    )
    ok = pc.or_(ok18, pc.and_(pc.equal(blen, 15), pc.ascii_is_decimal(values)))
    masked = replace_by_length(values, blen, ok, 6, -4, lambda n: n - 10)
    return compose(values, ok, masked, slow=None)


MOBILE_PATTERNS = (
    r"^(?P<head>(?:\+86|0086)[- ]?1\d{2})(?P<hide>\d{4})(?P<tail>\d{4})$",
    r"^(?P<head>(?:\+86[- ]?)?0\d{2,3}-)(?P<hide>\d{3,4})(?P<tail>\d{4})$",
)


def phone_partial(values: pa.Array) -> pa.Array:
    """Mobiles keep prefix + first 3 and last 4; landlines keep the area code and the
    last 4 of the local number."""
    blen = _bytes_len(values)
    ok = pc.and_(
        pc.and_(pc.equal(blen, 11), pc.starts_with(values, "1")), pc.ascii_is_decimal(values)
    )
    masked = pc.binary_replace_slice(values, 3, 7, "****")
    return compose(values, ok, masked, slow=lambda v: extract_masked(v, MOBILE_PATTERNS))


def bank_card_last4(values: pa.Array) -> pa.Array:
    """12–19 digit card numbers keep the last 4."""
    blen = _bytes_len(values)
    ok = pc.and_(
        pc.and_(pc.greater_equal(blen, 12), pc.less_equal(blen, 19)), pc.ascii_is_decimal(values)
    )
    masked = replace_by_length(values, blen, ok, 0, -4, lambda n: n - 4)
    return compose(values, ok, masked, slow=None)


NAME_PATTERNS = (
    # minority transliterations with a middle dot: keep the first character only
    rf"^(?P<head>\p{{Han}})(?P<hide>\p{{Han}}*(?:[{NAME_DOTS}]\p{{Han}}+)+)$",
    # Han names with characters outside the BMP (4-byte UTF-8)
    r"^(?P<head>\p{Han})(?P<hide>\p{Han}+)$",
)


def name_surname(values: pa.Array) -> pa.Array:
    """Keep the surname (two characters for a compound surname), mask the rest."""
    blen = _bytes_len(values)
    clen = pc.utf8_length(values)
    # all letters, all 3-byte (BMP CJK): a plain Han name, 2..MAX_NAME_CHARS characters
    ok = pc.and_(
        pc.and_(pc.utf8_is_alpha(values), pc.equal(blen, pc.multiply(clen, 3))),
        pc.and_(pc.greater_equal(clen, 2), pc.less_equal(clen, MAX_NAME_CHARS)),
    )
    binary_type = pa.binary() if pa.types.is_string(values.type) else pa.large_binary()
    # the head is cut by characters, not bytes: ``blen == 3 * clen`` also holds for a
    # 2-byte character next to a 4-byte one ('é𐀀'), whose first 3 bytes cut the second
    # character and made the column invalid UTF-8 (found by hypothesis)
    first2 = pc.utf8_slice_codeunits(values, 0, 2).view(binary_type)
    compound = pc.and_(
        pc.is_in(first2, pa.array(COMPOUND_SURNAMES, pa.binary())), pc.greater(clen, 2)
    )
    head = pc.if_else(compound, first2, pc.utf8_slice_codeunits(values, 0, 1).view(binary_type))
    table = pa.array([stars_n * "*" for stars_n in range(MAX_NAME_CHARS + 1)], pa.binary())
    hidden = pc.subtract(clen, pc.if_else(compound, 2, 1))
    rest = pc.take(table, pc.if_else(ok, hidden, 0))
    # rows outside ``ok`` may hold a cut multi-byte character here: view, don't cast
    # (which would validate); ``compose`` replaces exactly those rows
    sep = pa.scalar(b"", binary_type)
    masked = pc.binary_join_element_wise(head, rest.cast(binary_type), sep).view(values.type)
    return compose(values, ok, masked, slow=lambda v: extract_masked(v, NAME_PATTERNS))


DATE_PATTERNS = (
    r"^(?P<head>\d{4})(?:[-/.]\d{1,2}[-/.]\d{1,2}|年\d{1,2}月\d{1,2}日)"
    r"(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$",
)


def birth_date_year(values: pa.Array) -> pa.Array:
    """Dates as text (``1978-05-04``, ``19780504``, ``1978年5月4日`` …) → the year."""
    if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
        return pc.year(values).cast(pa.string())
    iso = pc.strptime(values, format="%Y-%m-%d", unit="s", error_is_null=True)
    compact = pc.strptime(values, format="%Y%m%d", unit="s", error_is_null=True)
    blen = _bytes_len(values)  # null for null input, so ``ok`` is null there too
    ok = pc.or_(
        pc.and_(pc.equal(blen, 10), pc.is_valid(iso)),
        pc.and_(pc.equal(blen, 8), pc.is_valid(compact)),
    )
    year = pc.utf8_slice_codeunits(values, 0, 4)

    def slow(subset: pa.Array) -> pa.Array:
        groups = pc.extract_regex(subset, DATE_PATTERNS[0])
        return pc.struct_field(groups, "head").cast(subset.type)

    return compose(values, ok, year, slow=slow)


__all__ = [
    "address_district",
    "bank_card_last4",
    "birth_date_year",
    "id_number_partial",
    "name_surname",
    "phone_partial",
]
