"""A batch's rows as worksheet XML (``<row><c>…</c></row>``), built column-wise.

Each column becomes an array of cell elements in a handful of ``pyarrow.compute`` calls
(typed values, escaped text, one element-wise join with the cell's markup), and one
more join makes every row's text in one buffer, as ``json_rows`` does for JSON: no
Python call per cell, which is what made a per-cell workbook writer run at about 1% of
the CSV's rows/s.

A cell's type comes from its column, never from its text (see ``xlsx``): text cells are
inline strings (``t="inlineStr"``, the text number format ``@``), numbers and date
serials are ``<v>`` values, booleans ``t="b"``; a null is no cell at all (every cell
carries its reference, so the next one stays in its column).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from gateway.enforcement.query.formats import neutralise_formulas
from gateway.enforcement.query.json_rows import any_match, value_bytes
from gateway.enforcement.query.xlsx_parts import (
    DATE,
    ESCAPED,
    NOT_XML,
    STAMP,
    TEXT,
    column_letters,
)

_TEXT = pa.large_string()
EXACT_DIGITS = 10**15  # from here a double (what a number cell holds) may lose digits
_EPOCH_SERIAL = 25569  # 1970-01-01 as a spreadsheet's day number
_FIRST_SERIAL = 61  # 1900-03-01: before it the 1900 date system is off by a day
_DAY_US = 86_400_000_000.0
_XML_SPECIAL = f"[&<>\\r]|{NOT_XML}|{ESCAPED}"
_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))
_CONTROLS = [chr(c) for c in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF)]


def _s(text: str) -> pa.Scalar:
    return pa.scalar(text, _TEXT)


@dataclass(frozen=True, slots=True)
class _Markup:
    """What surrounds a value in its cell: after the row number, and after the value."""

    mid: pa.Scalar
    end: pa.Scalar


_AS_TEXT = _Markup(_s(f'" t="inlineStr" s="{TEXT}"><is><t>'), _s("</t></is></c>"))
# a text that starts or ends with XML whitespace keeps it only when the element says so
_AS_SPACED = _Markup(_s(f'" t="inlineStr" s="{TEXT}"><is><t xml:space="preserve">'),
                     _s("</t></is></c>"))  # fmt: skip
_XML_SPACE = pa.array([b" ", b"\t", b"\r", b"\n"], pa.binary())
_AS_NUMBER = _Markup(_s('"><v>'), _s("</v></c>"))
_AS_DATE = _Markup(_s(f'" s="{DATE}"><v>'), _s("</v></c>"))
_AS_STAMP = _Markup(_s(f'" s="{STAMP}"><v>'), _s("</v></c>"))
_AS_BOOL = _Markup(_s('" t="b"><v>'), _s("</v></c>"))
_ONE, _ZERO = _s("1"), _s("0")
_ROW_START, _ROW_MID, _ROW_END, _NOTHING = _s('<row r="'), _s('">'), _s("</row>"), _s("")


class RowNumbers:
    """Row numbers as text, ``first`` to ``first + n - 1``, from a cached range (one
    kernel call instead of a Python list per batch)."""

    def __init__(self) -> None:
        self._range = pa.array([], pa.int64())

    def text(self, first: int, n: int) -> pa.Array:
        if len(self._range) < n:
            self._range = pa.array(range(n), pa.int64())
        return pc.add(self._range.slice(0, n), pa.scalar(first, pa.int64())).cast(_TEXT)


def rows_xml(batch: pa.RecordBatch, numbers: pa.Array, text_columns: frozenset[str]) -> pa.Buffer:
    """The rows of ``batch`` as ``<row>`` elements numbered by ``numbers``; integer
    columns named in ``text_columns`` (codes, by their meaning) are text cells."""
    cells = [
        _cells(column, _s(f'<c r="{column_letters(index)}'), numbers, name in text_columns)
        for index, (name, column) in enumerate(zip(batch.schema.names, batch.columns,
                                                   strict=True))
    ]  # fmt: skip
    rows = pc.binary_join_element_wise(
        _ROW_START, numbers, _ROW_MID, *cells, _ROW_END, _NOTHING,
        null_handling="skip",
    )  # fmt: skip
    return value_bytes(rows)


def xml_texts(values: pa.Array) -> pa.Array:
    """``xlsx_parts.xml_text`` of every value, column-wise; only values that need it
    are touched, and only when one scan of the column's bytes says some may."""
    values = values.cast(_TEXT)
    if not any_match(values, _XML_SPECIAL):
        return values
    needs = pc.fill_null(pc.match_substring_regex(values, _XML_SPECIAL), False)
    subset = pc.replace_substring_regex(pc.filter(values, needs), ESCAPED, "_x005F\\1")
    if any_match(subset, NOT_XML):
        present = value_bytes(subset).to_pybytes().decode()
        for char in _CONTROLS:
            if char in present:
                subset = pc.replace_substring(subset, char, f"_x{ord(char):04X}_")
    for char, entity in _ENTITIES:
        subset = pc.replace_substring(subset, char, entity)
    return pc.replace_with_mask(values, needs, subset)


def _cells(column: pa.Array, start: pa.Scalar, numbers: pa.Array, code: bool) -> pa.Array:
    """One column's cell elements (null where the value is)."""
    values = column.dictionary_decode() if pa.types.is_dictionary(column.type) else column
    make = _maker(values.type, code)
    return make(values, lambda markup, text: pc.binary_join_element_wise(
        start, numbers, markup.mid, text, markup.end, _NOTHING))  # fmt: skip


Join = Callable[[_Markup, pa.Array], pa.Array]
Maker = Callable[[pa.Array, Join], pa.Array]


def _maker(kind: pa.DataType, code: bool) -> Maker:
    """How a column of ``kind`` becomes cells (see the module docstring)."""
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _text
    if pa.types.is_boolean(kind):
        return _boolean
    if pa.types.is_integer(kind) or (pa.types.is_decimal(kind) and kind.scale == 0):
        return _text_of_values if code else _whole
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return _number
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        return _date
    return _other


def _text(values: pa.Array, join: Join) -> pa.Array:
    """Text cells; ``xml:space="preserve"`` only on the (few) values that need it, as
    it is a fifth of a text cell's bytes and the deflate's time goes by bytes."""
    values = neutralise_formulas(values)
    texts = xml_texts(values)
    cells = join(_AS_TEXT, texts)
    spaced = _edge_space(values)
    if not pc.any(spaced).as_py():
        return cells
    return pc.if_else(spaced, join(_AS_SPACED, texts), cells)


def _edge_space(values: pa.Array) -> pa.Array:
    """Whether each value starts or ends with XML whitespace: its first and last byte
    (each is a whole character there: ASCII), a fifth of a regex's time."""
    view = values.view(pa.large_binary() if pa.types.is_large_string(values.type)
                       else pa.binary())  # fmt: skip
    first = pc.is_in(pc.binary_slice(view, 0, 1), value_set=_XML_SPACE)
    last = pc.is_in(pc.binary_slice(view, -1), value_set=_XML_SPACE)
    return pc.fill_null(pc.or_(first, last), False)


def _text_of_values(values: pa.Array, join: Join) -> pa.Array:
    """Whole numbers as text: digits and a minus sign, never a formula (``-5`` typed
    into a cell is a number), so nothing to neutralise or escape."""
    return join(_AS_TEXT, values.cast(_TEXT))


def _boolean(values: pa.Array, join: Join) -> pa.Array:
    return join(_AS_BOOL, pc.if_else(values, _ONE, _ZERO))


def _whole(values: pa.Array, join: Join) -> pa.Array:
    """Integers: numbers, but those a double would round (16 digits and more) are
    text with every digit."""
    numbers = join(_AS_NUMBER, values.cast(_TEXT))
    if pa.types.is_decimal(values.type):
        if values.type.precision < 16:
            return numbers
        big = pc.greater_equal(pc.abs(values), pa.scalar(EXACT_DIGITS).cast(values.type))
    elif pa.types.is_integer(values.type) and values.type.bit_width == 64:
        big = pc.greater_equal(values, pa.scalar(EXACT_DIGITS, values.type))
        if pa.types.is_signed_integer(values.type):
            big = pc.or_(big, pc.less_equal(values, pa.scalar(-EXACT_DIGITS, values.type)))
    else:  # narrower integers never reach 10**15
        return numbers
    if not pc.any(big).as_py():
        return numbers
    return pc.if_else(big, _text_of_values(values, join), numbers)


def _number(values: pa.Array, join: Join) -> pa.Array:
    """Floats and decimals as numbers; a non-finite float is no cell (JSON's null)."""
    if pa.types.is_floating(values.type):
        values = pc.if_else(pc.is_finite(values), values, pa.scalar(None, values.type))
    return join(_AS_NUMBER, values.cast(_TEXT))


def _date(values: pa.Array, join: Join) -> pa.Array:
    """Dates and timestamps as the serial numbers a spreadsheet keeps (days since
    1899-12-30; an aware timestamp in UTC, a cell has no offset). A value before
    1900-03-01, where the 1900 date system is ambiguous, is text."""
    if pa.types.is_date(values.type):
        days = values.cast(pa.date32()).cast(pa.int32())
        serial = pc.add(days, pa.scalar(_EPOCH_SERIAL, pa.int32()))
        cells = join(_AS_DATE, serial.cast(_TEXT))
    else:
        micros = values.cast(pa.timestamp("us", values.type.tz)).cast(pa.int64())
        serial = pc.add(pc.divide(micros.cast(pa.float64()), _DAY_US), float(_EPOCH_SERIAL))
        cells = join(_AS_STAMP, serial.cast(_TEXT))
    early = pc.less(serial, pa.scalar(_FIRST_SERIAL, serial.type))
    if not pc.any(early).as_py():
        return cells
    return pc.if_else(early, _other(values, join), cells)


def _other(values: pa.Array, join: Join) -> pa.Array:
    """Any other type as text: each value's Python ``str`` (times, durations, lists…:
    rare in a result, so the per-value path is acceptable)."""
    texts = pa.array([None if v is None else str(v) for v in values.to_pylist()], pa.string())
    return _text(texts, join)
