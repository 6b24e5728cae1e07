"""The spreadsheet format (``?format=xlsx``): what analysts and officials open in Excel
or WPS, where the CSV lost them (18-digit codes turned into ``9.34301811393085E+017``,
a BOM'd file read as Latin-1).

Cells are typed from the Arrow column and the field's meaning, never guessed from the
text (``xlsx_cells``):

- string columns are text cells, always (ID numbers, codes and phone numbers stay
  exactly as they are, leading zeros and all 18 digits); integer columns that hold
  codes (``text_columns``: region codes stored as INTEGER, by the field's
  classification, personal-information category or name — ``code_columns``) are text
  too, and so is any integer a spreadsheet would round (16 digits or more);
- dates are date cells (``yyyy-mm-dd``), timestamps date-time cells (an aware timestamp
  in UTC: a cell has no offset); numbers and decimals are numbers (a spreadsheet
  holds doubles); non-finite floats are blank, as they are ``null`` in JSON;
- formula-like text is neutralised as in the CSV (``formats.neutralise_formulas``: a
  leading ``'``). A text cell is not evaluated as it is opened, but it becomes a formula
  as soon as someone edits it or a tool re-saves the value as written; the prefix keeps
  it inert in both cases.

The workbook is our own streaming writer: each batch's rows become worksheet XML
column-wise (``xlsx_cells``) and go straight into the sheet's deflated zip entry in a
temporary file (deflated on a thread of its own while the next slice is built: about a
third less time per workbook on two busy cores); the small fixed parts (``xlsx_parts``)
are added at the end and the file is handed on in ``CHUNK`` pieces (``tail``), so memory
stays bounded whatever the size.
It replaced XlsxWriter's constant-memory mode, whose Python call per cell ran at about
1% of the CSV's rows/s (``bench/xlsx_bench.py``). A sheet holds at most ``SHEET_ROWS``
rows, and stops taking batches past ``SHEET_BYTES`` of XML (a zip entry without Zip64
must stay under 4 GiB); more continue on the next sheet under the same header.
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

import pyarrow as pa

from gateway.enforcement.query.formats import (
    FORMATS,
    FORMULA_START,
    TRUNCATED_KEY,
    Encoder,
    cut_text,
)
from gateway.enforcement.query.xlsx_cells import RowNumbers, rows_xml
from gateway.enforcement.query.xlsx_parts import (
    BOLD,
    SHEET_TAIL,
    content_types,
    custom_properties,
    package_rels,
    sheet_head,
    styles,
    text_row,
    workbook,
    workbook_rels,
)

SHEET_ROWS = 1_048_576  # Excel's (and WPS's) rows per sheet, the header included
SHEET_BYTES = 3 << 30  # a sheet's XML; the 4 GiB of a plain zip entry, with room for a batch
CHUNK = 1 << 20
# rows made into XML at a time: a batch's XML and its cells exist at once, so a
# smaller slice lowers the peak, at a few more kernel calls
SLICE_ROWS = 16_384
# deflate level 1: XML this repetitive still shrinks about tenfold, at a fraction of
# level 6's time (measured on the bench's rows: the default level took most of it)
COMPRESS_LEVEL = 1
_FORMULA = re.compile(FORMULA_START)


class XlsxEncoder(Encoder):
    """One workbook: the ``result`` sheet(s), then a ``sluice`` sheet saying what it is
    (decision, policy version, rows, whether it was cut)."""

    media_type = FORMATS["xlsx"]

    def __init__(self, *, text_columns: frozenset[str] = frozenset()) -> None:
        # closed by ``tail``; an abandoned one is removed when it is collected
        self._out: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._zip = zipfile.ZipFile(self._out, "w", zipfile.ZIP_DEFLATED,
                                    compresslevel=COMPRESS_LEVEL)  # fmt: skip
        self._text_columns = text_columns
        self._numbers = RowNumbers()
        self._sheet: IO[bytes] | None = None  # the zip entry being written
        self._names: list[str] = []  # the sheets' names, in order
        self._head = b""  # a result sheet's start and header row
        self._row = 0  # the next row's number (1-based, as in a cell reference)
        self._bytes = 0  # of the open sheet
        self._header: dict[str, Any] = {}
        self._deflater = ThreadPoolExecutor(1, thread_name_prefix="xlsx-deflate")
        self._pending: Future[int] | None = None

    def begin(self, schema: pa.Schema, header: dict[str, Any]) -> bytes:
        self._header = header
        widths = [_width(field) for field in schema]
        names = [_neutral(name) for name in schema.names]
        self._head = sheet_head(widths, frozen=True) + text_row(1, names, BOLD)
        self._new_sheet()
        return b""

    def batch(self, batch: pa.RecordBatch) -> bytes:
        done = 0
        while done < batch.num_rows:
            if self._row > SHEET_ROWS or self._bytes > SHEET_BYTES:
                self._new_sheet()
            take = min(batch.num_rows - done, SHEET_ROWS + 1 - self._row, SLICE_ROWS)
            xml = rows_xml(batch.slice(done, take), self._numbers.text(self._row, take),
                           self._text_columns)  # fmt: skip
            self._write(xml)
            self._row += take
            done += take
        return b""

    def end(self, trailer: dict[str, Any]) -> bytes:
        return b"".join(self.tail(trailer))

    def tail(self, trailer: dict[str, Any]) -> Iterator[bytes]:
        """Finish the workbook (the zip is completed in a temporary file) and hand it on
        in chunks."""
        try:
            if self._sheet is None:
                self.begin(pa.schema([]), {})
            self._close_sheet()
            self._finish(bool(trailer.get("truncated")), trailer.get("row_count", ""))
            self._out.seek(0)
            while chunk := self._out.read(CHUNK):
                yield chunk
        finally:
            self._deflater.shutdown(wait=True, cancel_futures=True)
            self._out.close()

    def _new_sheet(self) -> None:
        self._close_sheet()
        self._names.append("result" if not self._names else f"result {len(self._names) + 1}")
        self._sheet = self._zip.open(f"xl/worksheets/sheet{len(self._names)}.xml", "w")
        self._bytes = 0
        self._write(self._head)
        self._row = 2

    def _write(self, data: bytes | pa.Buffer) -> None:
        """Deflate ``data`` into the open sheet on the writer's own thread, while the
        next slice's XML is built here (zlib and the CRC release the GIL): one write in
        flight at most, so at most two slices' XML exist at once."""
        sheet = self._sheet
        if sheet is None:
            raise RuntimeError("no sheet is open")
        self._settle()
        self._pending = self._deflater.submit(sheet.write, data)
        self._bytes += len(data)

    def _settle(self) -> None:
        """Wait for the write in flight (its error, if any, is raised here)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _close_sheet(self) -> None:
        if self._sheet is not None:
            self._write(SHEET_TAIL)
            self._settle()
            self._sheet.close()
            self._sheet = None

    def _finish(self, truncated: bool, row_count: object) -> None:
        """The ``sluice`` sheet and the fixed parts, then the zip's directory."""
        facts = [("truncated", cut_text(truncated)), ("row_count", str(row_count)),
                 ("decision_id", str(self._header.get("decision_id", ""))),
                 ("policy_version", str(self._header.get("policy_version", "")))]  # fmt: skip
        rows = b"".join(text_row(n, [key, value]) for n, (key, value) in enumerate(facts, 1))
        self._names.append("sluice")
        count = len(self._names)
        self._put(f"xl/worksheets/sheet{count}.xml",
                  sheet_head([16, 40], frozen=False) + rows + SHEET_TAIL)  # fmt: skip
        self._put("xl/workbook.xml", workbook(self._names))
        self._put("xl/_rels/workbook.xml.rels", workbook_rels(count))
        self._put("xl/styles.xml", styles())
        self._put("docProps/custom.xml", custom_properties({TRUNCATED_KEY: truncated}))
        self._put("_rels/.rels", package_rels())
        self._put("[Content_Types].xml", content_types(count))
        self._zip.close()

    def _put(self, name: str, data: bytes) -> None:
        self._zip.writestr(name, data)


def _neutral(text: str) -> str:
    return "'" + text if _FORMULA.match(text) else text


def _width(field: pa.Field) -> int:
    """A column's width in characters: an 18-digit ID or a date-time fits, and so does
    the header (a CJK character is two wide)."""
    kind = field.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_timestamp(kind):
        least = 20
    elif pa.types.is_date(kind):
        least = 12
    else:
        least = 10
    shown = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in field.name)
    return min(max(least, shown + 2), 60)
