"""Dates, coarsened or moved: ``date_month`` (``YYYY-MM``), ``date_year`` (``YYYY``) and
``date_shift`` (a keyed shift of 1 to ``MAX_SHIFT_DAYS`` days, either way).

``date_year`` is ``birth_date_year`` under a name that fits any date (a payment, a
death, a finding); ``mask_array`` masks both with ``partial.birth_date_year``.
``date_month`` follows the same rules: date and timestamp columns give text
``YYYY-MM`` (timestamps in their own time zone), dates as text are read in the shapes
``birth_date_year`` reads, and any other text is masked whole (never passed through).

``date_shift`` — what is consistent, and why this way:

- The shift of a value depends on the key, the entry and field it is read from
  (``scoped_shift_key``), and the value's calendar date: every occurrence of
  2024-05-04 in one field moves by the same number of days, so equal dates stay equal
  there (group-bys on a shifted date still work; comparisons match keys as tokens of
  the raw values anyway). The gateway's key is the same in every case
  (``SubjectTokens.shift_key``): under keys that differ per case, which the analyst
  names, the same row asked under a few dozen cases showed its date shifted
  independently each time, and the windows around the dates shown pinned the true one
  (red team 36). Another field, another entry, shifts the same date independently: a
  codebook of true and shifted dates learnt on one field (a grant's case against
  another case) decoded every department's shifted dates while the key was one for all
  (red team 37).
- It is *per date*, not one offset per case: one known true date (a public holiday, an
  event in the news) reveals one shift of one field, never everyone's. The price is
  that intervals between different dates are only kept to within ``2 * MAX_SHIFT_DAYS`` days, and
  order between dates closer than that may change; a per-person offset would keep
  intervals but needs a person key beside every date column, which a column mask does
  not see.
- Never 0 days: a shifted date is never the true one. Equal dates stay equal, so the
  frequencies of dates within a case survive (a masked column is not an anonymous one).
- The key is HMAC-SHA256(case key, ``SHIFT_LABEL``): a key of its own, so shifts and
  ``hash`` tokens of the same case are not computed under the same key.

Types stay: ``date32``/``date64``/timestamps come back shifted in their own type (a
timestamp by whole 24-hour days, keeping its time of day); text dates in the two plain
shapes ``YYYY-MM-DD`` and ``YYYYMMDD`` come back in the same shape, and any other text
is masked whole. Only the distinct dates of an array are hashed (few: a century has
36,525), by ``tokens.HmacTokens.digests``; spreading the shifts back is ``take``.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc

from gateway.enforcement.masking.kernels import as_text, compose, per_distinct, whole
from gateway.enforcement.masking.tokens import hmac_tokens

MAX_SHIFT_DAYS = 30
SHIFT_LABEL = b"sluice-date-shift-v1"
SCOPE_LABEL = b"sluice-date-shift-scope-v1\x00"
MONTH_PATTERN = (
    r"^(?P<year>\d{4})(?:[-/.](?P<m1>0?[1-9]|1[0-2])[-/.]\d{1,2}"
    r"|年(?P<m2>0?[1-9]|1[0-2])月\d{1,2}日)"
    r"(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
_TICKS_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}
_TEXT_SHAPES = (("%Y-%m-%d", 10), ("%Y%m%d", 8))


def _contiguous(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One array: dates and timestamps as they are, anything else as text (so a number
    column under a date mask is read as text and masked whole unless it reads as a
    date, never a failed query)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    return values if _is_dated(values.type) else as_text(values)


def _is_dated(kind: pa.DataType) -> bool:
    return bool(pa.types.is_date(kind) or pa.types.is_timestamp(kind))


def _year_month(values: pa.Array) -> pa.Array:
    """``YYYY-MM`` of a date or timestamp array (years as Arrow prints them)."""
    month = pc.utf8_lpad(pc.month(values).cast(pa.string()), width=2, padding="0")
    return pc.binary_join_element_wise(pc.year(values).cast(pa.string()), month, "-")


def _parsed_exactly(values: pa.Array, fmt: str, size: int) -> tuple[pa.Array, pa.Array]:
    """Values of exactly the shape ``fmt`` (``size`` bytes) as timestamps, and which
    ones are (null for null values). Arrow's ``strptime`` rolls 2024-02-30 over to
    March: a value only counts when it prints back as itself."""
    parsed = pc.strptime(values, format=fmt, unit="s", error_is_null=True)
    printed = pc.strftime(parsed, format=fmt).cast(values.type)
    shape = pc.and_(pc.equal(pc.binary_length(values), size), pc.is_valid(parsed))
    return parsed, pc.and_(shape, pc.fill_null(pc.equal(printed, values), False))


def date_month(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The year and month as text, ``YYYY-MM``; malformed text masked whole."""
    return per_distinct(_contiguous(values), _date_month)


def _date_month(values: pa.Array) -> pa.Array:
    if _is_dated(values.type):
        return _year_month(values)
    iso, is_iso = _parsed_exactly(values, *_TEXT_SHAPES[0])
    compact, is_compact = _parsed_exactly(values, *_TEXT_SHAPES[1])
    ok = pc.or_(is_iso, is_compact)
    fast = _year_month(pc.if_else(is_iso, iso, compact)).cast(values.type)

    def slow(subset: pa.Array) -> pa.Array:
        groups = pc.extract_regex(subset, MONTH_PATTERN)
        month = pc.coalesce(
            pc.if_else(pc.equal(pc.struct_field(groups, "m1"), ""), None,
                       pc.struct_field(groups, "m1")),
            pc.struct_field(groups, "m2"),
        )  # fmt: skip
        padded = pc.utf8_lpad(month, width=2, padding="0")
        year = pc.struct_field(groups, "year")
        sep = pa.scalar("-", subset.type)
        return pc.binary_join_element_wise(year, padded, sep).cast(subset.type)

    return compose(values, ok, fast, slow=slow, malformed=whole)


def shift_key(case_key: bytes) -> bytes:
    """The date-shift key of one case (not the ``hash`` key itself)."""
    if len(case_key) < 16:
        raise ValueError("masking key too short")
    return hmac.new(case_key, SHIFT_LABEL, hashlib.sha256).digest()


def scoped_shift_key(key: bytes, scope: str) -> bytes:
    """The shift key of one entry, then of one of its fields (applied twice: by the
    plan for its entry, by ``mask_batch`` for each column). Keyed by the date alone, a
    codebook of true and shifted dates learnt on one field — a grant's case against
    another case, a known date, a leak — decoded every shifted date of every
    department (red team 37); scoped, it decodes that field only."""
    if len(key) < 16:
        raise ValueError("masking key too short")
    return hmac.new(key, SCOPE_LABEL + scope.encode("utf-8"), hashlib.sha256).digest()


def shifts_of_days(days: pa.Array, case_key: bytes) -> pa.Array:
    """Days to add (``int32``, in ±1..MAX_SHIFT_DAYS) for each day number since the epoch.

    The first four bytes of HMAC(shift key, ``YYYY-MM-DD``), read little-endian,
    modulo ``2 * MAX_SHIFT_DAYS`` give ``r``; the shift is ``r - MAX`` below ``MAX`` and
    ``r - MAX + 1`` from it, so 0 never occurs (the bias of 2**32 mod 60 is 2**-28).
    """
    encoded = days.cast(pa.int32()).dictionary_encode()
    distinct = encoded.dictionary
    texts: list[str] = distinct.cast(pa.date32()).cast(pa.string()).to_pylist()
    digests = hmac_tokens(shift_key(case_key)).digests([t.encode("ascii") for t in texts])
    raw = pa.py_buffer(b"".join(d[:4] for d in digests))
    words = pa.Array.from_buffers(pa.uint32(), len(digests), [None, raw]).cast(pa.int64())
    span = 2 * MAX_SHIFT_DAYS
    r = pc.subtract(words, pc.multiply(pc.divide(words, span), span))
    shift = pc.subtract(r, MAX_SHIFT_DAYS)
    shift = pc.if_else(pc.greater_equal(shift, 0), pc.add(shift, 1), shift).cast(pa.int32())
    return pc.take(shift, encoded.indices)


def _day_numbers(values: pa.Array) -> pa.Array:
    """Calendar day of each value (``int32`` days since 1970-01-01; a timestamp's day in
    its own time zone)."""
    if pa.types.is_date32(values.type):
        return values.cast(pa.int32())
    return values.cast(pa.date32(), safe=False).cast(pa.int32())


def _shift_dated(values: pa.Array, case_key: bytes) -> pa.Array:
    shift = shifts_of_days(_day_numbers(values), case_key)
    kind = values.type
    if pa.types.is_date32(kind):
        return pc.add(values.cast(pa.int32()), shift).cast(pa.int32()).cast(kind)
    if pa.types.is_date64(kind):
        ticks = pc.multiply(shift.cast(pa.int64()), _TICKS_PER_DAY["ms"])
        return pc.add(values.cast(pa.int64()), ticks).cast(kind)
    ticks = pc.multiply(shift.cast(pa.int64()), _TICKS_PER_DAY[kind.unit])
    return pc.add(values.cast(pa.int64()), ticks).cast(kind)


def date_shift(values: pa.Array | pa.ChunkedArray, case_key: bytes) -> pa.Array:
    """Each date moved by its keyed shift; the type (or text shape) stays."""
    values = _contiguous(values)
    if _is_dated(values.type):
        return _shift_dated(values, case_key)
    shifted = pa.nulls(len(values), values.type)
    shapes = []
    for fmt, size in _TEXT_SHAPES:
        parsed, shape = _parsed_exactly(values, fmt, size)
        moved = _shift_dated(parsed.cast(pa.date32(), safe=False), case_key)
        text = pc.strftime(moved.cast(pa.timestamp("s")), format=fmt).cast(values.type)
        shifted = pc.if_else(shape, text, shifted)
        shapes.append(shape)
    return compose(values, pc.or_(*shapes), shifted, slow=None, malformed=whole)
