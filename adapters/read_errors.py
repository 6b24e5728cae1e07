"""What a source's failure says to the caller, without the source's values.

A failure's message goes to whoever asked — an analyst, in the 502's body — and onto
the trail (``query.failed``). Arrow's reader and the databases' drivers put the data
they choked on into their messages: a CSV row that does not parse came back whole
(``CSV parse error: Row #40002: Expected 6 columns, got 7: 430121199202022345,李四,
139…``), in clear, to an analyst who sees those fields masked, and onto the trail, which
never holds a raw ID number (red team 34). So a file's failure is described from a
closed set of shapes (which row, how many columns, which type), and a driver's message
keeps its words but loses every quoted literal.
"""

from __future__ import annotations

import re

_ROW = re.compile(r"Row #(\d+)")
_COLUMNS = re.compile(r"Expected (\d+) columns, got (\d+)")
_CSV_COLUMN = re.compile(r"In CSV column #(\d+)")
_CONVERSION = re.compile(r"conversion error to ([a-z0-9_\[\], ]+?):")
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
ELIDED = "'…'"


def file_failure(exc: BaseException) -> str:
    """Why a CSV or Parquet file could not be read: the row and the kind of fault when
    Arrow names them, never a value, a row's text or a path."""
    text = str(exc)
    row = _ROW.search(text)
    at = f" (row {row.group(1)})" if row else ""
    columns = _COLUMNS.search(text)
    if columns:
        return f"a row has {columns.group(2)} columns, not {columns.group(1)}{at}"
    conversion = _CONVERSION.search(text)
    if conversion:
        column = _CSV_COLUMN.search(text)
        which = f"CSV column #{column.group(1)}" if column else "a column"
        return f"a value of {which} is not of type {conversion.group(1)}{at}"
    if "parse error" in text.lower():
        return f"a row does not parse as CSV{at}"
    return f"the file could not be read ({type(exc).__name__})"


def without_literals(text: str) -> str:
    """A driver's message with each quoted literal replaced by ``'…'`` (PostgreSQL's
    ``invalid input syntax for type integer: "430121…"`` from a partner's view, MySQL's
    ``'…'`` values): the words say what failed, the values stay at the source."""
    return _QUOTED.sub(ELIDED, text)
