"""What a source's failure says to the caller, without the source's values.

A failure's message goes to whoever asked — an analyst, in the 502's body — and onto
the trail (``query.failed``). Arrow's reader and the databases' drivers put the data
they choked on into their messages: a CSV row that does not parse came back whole
(``CSV parse error: Row #40002: Expected 6 columns, got 7: 430121199202022345,李四,
139…``), in clear, to an analyst who sees those fields masked, and onto the trail, which
never holds a raw ID number (red team 34). So a file's failure is described from a
closed set of shapes (which row, how many columns, which type), and a driver's message
by its words before the first value and its SQLSTATE (red team 35: stripping quoted
literals alone let a value holding a quote, a long one, or a JSON one through).
"""

from __future__ import annotations

import re

from catalog.value_free_text import head_words

_ROW = re.compile(r"Row #(\d+)")
_COLUMNS = re.compile(r"Expected (\d+) columns, got (\d+)")
_CSV_COLUMN = re.compile(r"In CSV column #(\d+)")
_CONVERSION = re.compile(r"conversion error to ([a-z0-9_\[\], ]+?):")
_RAISED = {1644}  # MySQL's ER_SIGNAL_EXCEPTION: a SIGNAL of the source's own


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


def driver_failure(orig: BaseException) -> str:
    """What a database's refusal of a read says: the words of its message before the
    first value, and its SQLSTATE or error code — never the rest.

    Stripping quoted literals (red team 34) read the message as pairs of quotes, which
    it is not: PostgreSQL prints a value as it is, so one holding a quote closed the pair
    inside itself (``"3" 430121… 李四"``); a value past the message's 300-character cut
    lost its closing quote; and psycopg's message carries the server's DETAIL and
    CONTEXT lines, where a broken JSON value is printed unquoted (red team 35). A
    message names the fault first and the value after a quote or a colon
    (``invalid input syntax for type integer: "…"``, MySQL's ``Incorrect integer
    value: '…' for column …``); one the source raised itself (PL/pgSQL ``RAISE``, MySQL
    ``SIGNAL``) is the partner's own text throughout, so it is not quoted at all."""
    args: tuple[object, ...] = tuple(getattr(orig, "args", ()))
    mysql = len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str)
    text = str(args[1]) if mysql else str(orig)  # PyMySQL's str() is the (code, message) tuple
    state = getattr(orig, "sqlstate", None)
    code = args[0] if mysql else None
    tag = f" (SQLSTATE {state})" if state else f" (error {code})" if code else ""
    if (state or "").startswith("P0") or code in _RAISED:
        return f"the source raised an error of its own{tag}"
    head, cut = head_words(text)
    return f"{head or type(orig).__name__}{' …' if cut else ''}{tag}"
