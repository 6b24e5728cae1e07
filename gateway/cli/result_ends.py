"""How the end of a result is read: rows, whether it is whole, whether it was cut.

Per format, because each ends differently: JSON with its trailer (``"truncated"``,
``"row_count"`` after the rows array), Parquet with its footer magic and key-value
metadata, an Arrow IPC stream with its end-of-stream marker and schema metadata, NDJSON
and CSV with a final newline (and rows countable as lines while they arrive, CSV's
outside quoted cells). The ``Sluice-Truncated`` response header, when a gateway sends
it, says what the gateway knew when the headers left (``true``, ``false`` or
``unknown``); the format's own flag (the JSON trailer, ``sluice.truncated`` in Parquet's
footer metadata or in an Arrow stream's schema or closing batch, a workbook's custom
property) is written once the end is known, and is believed first.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from gateway.cli.remote import BINARY_FORMATS

ARROW_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"
TRUNCATION_KEY = b"sluice.truncated"
SAID_BY = {"json": "the JSON trailer", "parquet": "the Parquet footer's metadata",
           "arrow": "the Arrow stream's metadata",
           "xlsx": "the workbook's custom property"}  # fmt: skip
ZIP_START = b"PK\x03\x04"
ZIP_END = b"PK\x05\x06"  # end of central directory: 22 bytes and a comment, last
_SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_CUSTOM = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


@dataclass
class Received:
    """What arrived, and what the gateway said about it."""

    bytes: int = 0
    rows: int | None = None
    truncated: bool | None = None
    said_by: str = ""
    request_id: str = ""
    header: str | None = None  # the Sluice-Truncated header as sent


# -- rows, counted as the stream arrives ------------------------------------------------


class LineRows:
    """NDJSON: one row per line."""

    def __init__(self) -> None:
        self.lines = 0

    def feed(self, chunk: bytes) -> None:
        self.lines += chunk.count(b"\n")

    @property
    def rows(self) -> int:
        return self.lines


class CsvRows:
    """CSV rows after the header: newlines outside quoted cells (a quoted cell may hold
    a newline, and may be split across chunks)."""

    _QUOTED = re.compile(rb'"[^"]*"')

    def __init__(self) -> None:
        self.lines = 0
        self.in_quotes = False

    def feed(self, chunk: bytes) -> None:
        if self.in_quotes:
            end = chunk.find(b'"')
            if end < 0:
                return
            chunk, self.in_quotes = chunk[end + 1 :], False
        outside = self._QUOTED.sub(b"", chunk)
        opened = outside.find(b'"')  # at most one quote is left: a cell still open
        if opened >= 0:
            outside, self.in_quotes = outside[:opened], True
        self.lines += outside.count(b"\n")

    @property
    def rows(self) -> int:
        return max(self.lines - 1, 0)


def row_counter(fmt: str) -> LineRows | CsvRows | None:
    if fmt == "ndjson":
        return LineRows()
    if fmt in ("csv", "csv_raw"):
        return CsvRows()
    return None


# -- the end of each format ------------------------------------------------------------


def json_trailer(tail: bytes) -> dict[str, Any] | None:
    """The JSON result's closing ``"truncated": …, "row_count": …`` members: they follow
    the rows array's closing bracket, the last ``]`` of the document."""
    close = tail.rfind(b"]")
    if close < 0 or tail[close + 1 : close + 2] != b",":
        return None
    try:
        trailer = json.loads(b"{" + tail[close + 2 :])
    except ValueError:
        return None
    if not isinstance(trailer, dict) or not isinstance(trailer.get("truncated"), bool):
        return None
    return trailer


def format_complete(fmt: str, head: bytes, tail: bytes) -> bool:
    """Whether the bytes end as the format ends (an empty NDJSON or CSV body is whole)."""
    if fmt == "json":
        return json_trailer(tail) is not None
    if fmt == "parquet":
        return head.startswith(b"PAR1") and tail.endswith(b"PAR1")
    if fmt == "arrow":
        return tail.endswith(ARROW_EOS)
    if fmt == "xlsx":
        end = tail.rfind(ZIP_END)
        return head.startswith(ZIP_START) and end >= 0 and len(tail) - end >= 22
    return not tail or tail.endswith(b"\n")


def _flag(value: bytes | str | None) -> bool | None:
    """``true`` / ``false``; anything else (``unknown``, absent) says nothing."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if text is None:
        return None
    return {"true": True, "false": False}.get(text.strip().lower())


def _arrow_facts(path: Path) -> tuple[int, bool | None]:
    """Rows of an Arrow IPC stream file, and its cut: the closing batch's custom
    metadata (written at the end, exact) wins over the schema's (written first, when
    the cut was known that early)."""
    import pyarrow as pa

    rows, flag = 0, None
    with pa.memory_map(str(path)) as source:
        reader = pa.ipc.open_stream(source)
        flag = _flag((reader.schema.metadata or {}).get(TRUNCATION_KEY))
        while True:
            try:
                batch, custom = reader.read_next_batch_with_custom_metadata()
            except StopIteration:
                break
            rows += batch.num_rows
            if custom is not None and _flag(custom.get(TRUNCATION_KEY)) is not None:
                flag = _flag(custom.get(TRUNCATION_KEY))
    return rows, flag


# the workbook came from the gateway this token was sent to; ElementTree resolves no
# external entities and Python's expat bounds entity expansion
def _result_sheets(book: zipfile.ZipFile) -> list[str]:
    """The worksheets holding rows: every sheet but the one named ``sluice`` (where a
    gateway states the result's facts), found through the workbook and its relations."""
    names = book.namelist()
    if "xl/workbook.xml" not in names or "xl/_rels/workbook.xml.rels" not in names:
        return [n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")]
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))  # noqa: S314
    target = {rel.get("Id"): str(rel.get("Target", "")) for rel in rels}
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))  # noqa: S314
    sheets = []
    for sheet in workbook.iter(f"{_SHEET}sheet"):
        where = target.get(sheet.get(f"{_REL}id"), "")
        if sheet.get("name") != "sluice" and where:
            sheets.append(where.lstrip("/") if where.startswith("/") else f"xl/{where}")
    return sheets


def _sheet_rows(book: zipfile.ZipFile, name: str) -> int:
    """Rows of one sheet below its header, read element by element (bounded memory)."""
    found = 0
    with book.open(name) as sheet:
        for _, element in ElementTree.iterparse(sheet):  # noqa: S314
            found += element.tag == f"{_SHEET}row"
            element.clear()
    return max(found - 1, 0)


def _xlsx_facts(path: Path) -> tuple[int, bool | None]:
    """Data rows of a workbook (each result sheet repeats the header row) and its cut,
    the custom document property ``sluice.truncated``."""
    flag = None
    with zipfile.ZipFile(path) as book:
        rows = sum(_sheet_rows(book, name) for name in _result_sheets(book))
        if "docProps/custom.xml" in book.namelist():
            custom = ElementTree.fromstring(book.read("docProps/custom.xml"))  # noqa: S314
            for prop in custom:
                if prop.tag == f"{_CUSTOM}property" and prop.get("name") == "sluice.truncated":
                    flag = _flag("".join(prop.itertext()))
    return rows, flag


def _file_facts(fmt: str, path: Path) -> tuple[int | None, bool | None]:
    """Rows and truncation flag read from a finished Parquet, Arrow or xlsx file."""
    if fmt == "arrow":
        return _arrow_facts(path)
    if fmt == "xlsx":
        return _xlsx_facts(path)
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path)
    return meta.num_rows, _flag((meta.metadata or {}).get(TRUNCATION_KEY))


def settle(received: Received, *, fmt: str, headers: Any, tail: bytes, path: Path | None) -> None:
    """Rows and truncation. The format's own flag, written once the end was known, is
    believed first; else the ``Sluice-Truncated`` header (``true``/``false`` when the
    gateway knew as the headers left, ``unknown`` when it did not)."""
    received.header = headers.get("sluice-truncated")
    flag: bool | None = None
    if fmt == "json":
        trailer = json_trailer(tail) or {}
        count = trailer.get("row_count")
        received.rows = count if isinstance(count, int) else received.rows
        flag = trailer.get("truncated")
    elif fmt in BINARY_FORMATS and path is not None:
        received.rows, flag = _file_facts(fmt, path)
    if flag is not None:
        received.truncated, received.said_by = flag, SAID_BY[fmt]
    elif _flag(received.header) is not None:
        received.truncated = _flag(received.header)
        received.said_by = "the Sluice-Truncated header"
