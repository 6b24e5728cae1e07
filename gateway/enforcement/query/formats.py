"""Output formats: each encoder turns masked Arrow batches into bytes, incrementally.

Encoders never hold the whole result (Parquet and Arrow write through a small sink
that hands each written chunk on), so a 1,000,000-row stream runs in bounded memory.

JSON and NDJSON rows are built column-wise (``json_rows``); xlsx is its own module
(``xlsx``), imported only when asked for.

CSV is opened by spreadsheets, which evaluate a cell starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return (and WPS/Excel in CJK locales their full-width forms
``＝ ＋ － ＠``) as a formula — ``=HYPERLINK(...)`` in a source value would run on the
analyst's desk. ``csv`` therefore neutralises such cells as OWASP recommends: a single
quote ``'`` is put in front and the cell is quoted (Arrow quotes every string value), in
string columns and in the header; numbers, dates and nulls are never touched (``-5`` in
an integer column is a number, not a formula). ``csv_raw`` gives the values unchanged,
for machine consumers who never open the file in a spreadsheet; both are on record in
the audit trail as the format asked for. The check is one vectorised regex per string
column (``pyarrow.compute``), never a per-cell Python loop.

A result cut at its row cap says so in every format (issue 16). Where it is said
depends on when the cut is known: the reader reads one row past the limit, so the cut
is certain only once the read has ended — before the first byte for a result that fits
in the response's first buffer, only at the end for one that streams on. Hence:

- JSON: ``"truncated"`` after the rows (always exact);
- Parquet: the footer's key-value metadata ``sluice.truncated`` (written at the end,
  always exact);
- Arrow: the schema's metadata ``sluice.truncated`` is ``true``/``false`` when the cut
  is known as the schema is written (the encoder holds the first batch back, so a
  one-batch result is always exact) and ``unknown`` otherwise; the stream then ends
  with a zero-row batch whose custom metadata ``sluice.truncated`` is always exact;
- xlsx: a ``sluice`` sheet and the workbook's custom property (written at the end);
- CSV and NDJSON have no place for a marker that no reader would take for a row: the
  ``Sluice-Truncated`` response header (``gateway.web.routes.streaming``) says it.
"""

from __future__ import annotations

import functools
import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from catalog.errors import BadRequest
from gateway.enforcement.query.json_rows import (
    SMALL_BATCH_ROWS,
    dict_lines,
    json_escape,
    json_fragments,
    json_lines,
    json_rows,
    typed_text,
)

__all__ = [
    "FORMATS",
    "SMALL_BATCH_ROWS",
    "TRUNCATED_KEY",
    "CutProbe",
    "Encoder",
    "choose_format",
    "cut_text",
    "json_escape",
    "json_fragments",
    "json_lines",
    "json_rows",
    "make_encoder",
    "neutralise_formulas",
]

FORMATS = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "csv_raw": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_ACCEPT = {
    "application/json": "json",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/vnd.apache.arrow.stream": "arrow",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
# the metadata key of the truncation marker in Parquet, Arrow and xlsx
TRUNCATED_KEY = "sluice.truncated"
# whether the result was cut: ``None`` while the read is under way and no cut was seen
CutProbe = Callable[[], bool | None]


def cut_text(cut: bool | None) -> str:
    """The marker's text: ``true``, ``false`` or ``unknown`` (not known yet)."""
    return "unknown" if cut is None else ("true" if cut else "false")


def choose_format(query_format: str | None, accept: str | None) -> str:
    """``?format=`` wins over ``Accept``; JSON when neither says."""
    if query_format:
        if query_format not in FORMATS:
            raise BadRequest(f"unknown format {query_format!r}; one of {', '.join(FORMATS)}")
        return query_format
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        if media in _ACCEPT:
            return _ACCEPT[media]
    return "json"


class _Sink(io.RawIOBase):
    """A write-only file that keeps what was written until ``take``."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        self._pos += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


class Encoder(ABC):
    media_type: str
    # asked by encoders that write the cut before the end (Arrow's schema)
    cut: CutProbe | None = None

    @abstractmethod
    def begin(self, schema: pa.Schema, header: dict[str, Any]) -> bytes: ...

    @abstractmethod
    def batch(self, batch: pa.RecordBatch) -> bytes: ...

    @abstractmethod
    def end(self, trailer: dict[str, Any]) -> bytes: ...

    def tail(self, trailer: dict[str, Any]) -> Iterator[bytes]:
        """``end`` in pieces: a format that is assembled at the end (xlsx) hands it on
        in bounded chunks instead of one buffer."""
        yield self.end(trailer)


class JsonEncoder(Encoder):
    """``{"columns": [...], "decision_id": ..., "rows": [...], "truncated": ...}``"""

    media_type = FORMATS["json"]

    def __init__(self) -> None:
        self._first = True

    def begin(self, schema: pa.Schema, header: dict[str, Any]) -> bytes:
        head = orjson.dumps(header)[:-1]  # drop the closing brace, rows follow
        return head + (b',"rows":[' if len(header) else b'"rows":[')

    def batch(self, batch: pa.RecordBatch) -> bytes:
        if batch.num_rows == 0:
            return b""
        # a comma before every row, but for the document's first one
        rows = json_lines(batch, before=",", skip=1 if self._first else 0)
        self._first = False
        return rows

    def rows(self, rows: list[dict[str, Any]]) -> bytes:
        """``batch`` of rows given as the dicts a small batch's ``to_pylist`` holds."""
        if not rows:
            return b""
        out = dict_lines(rows, before=",", skip=1 if self._first else 0)
        self._first = False
        return out

    def end(self, trailer: dict[str, Any]) -> bytes:
        return b"]," + orjson.dumps(trailer)[1:]


class NdjsonEncoder(Encoder):
    media_type = FORMATS["ndjson"]

    def begin(self, schema: pa.Schema, header: dict[str, Any]) -> bytes:
        return b""

    def batch(self, batch: pa.RecordBatch) -> bytes:
        if batch.num_rows == 0:
            return b""
        return json_lines(batch, after="\n")

    def end(self, trailer: dict[str, Any]) -> bytes:
        return b""


class _WriterEncoder(Encoder):
    """Formats written by a pyarrow writer (Arrow IPC, Parquet) through a ``_Sink``."""

    def __init__(self) -> None:
        self._sink = _Sink()
        self._writer: Any = None

    @abstractmethod
    def _open(self, sink: _Sink, schema: pa.Schema) -> Any: ...

    def begin(self, schema: pa.Schema, header: dict[str, Any]) -> bytes:
        self._writer = self._open(self._sink, schema)
        return self._sink.take()

    def batch(self, batch: pa.RecordBatch) -> bytes:
        if batch.num_rows:
            self._writer.write_batch(batch)
        return self._sink.take()

    def end(self, trailer: dict[str, Any]) -> bytes:
        if self._writer is not None:
            self._writer.close()
        return self._sink.take()


# what a spreadsheet takes for the start of a formula (OWASP "CSV injection"), with the
# full-width forms CJK input methods type
FORMULA_START = "^[=+\\-@\t\r\uff1d\uff0b\uff0d\uff20]"
_QUOTE_MARK = "'"


@functools.cache
def _first_bytes() -> pa.Array:
    """The first UTF-8 byte of each formula start (0xEF leads the full-width forms).
    Built on first use, not at import: ``pa.array`` on Python objects imports pandas
    (pyarrow's pandas shim), half a second every gateway and CLI process paid at
    start-up whether or not it ever wrote a CSV."""
    return pa.array([b"=", b"+", b"-", b"@", b"\t", b"\r", b"\xef"], pa.binary())


def neutralise_formulas(values: pa.Array) -> pa.Array:
    """String values that a spreadsheet would evaluate, prefixed with ``'`` (others
    unchanged, nulls kept). Non-string arrays are returned as they are."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.dictionary_decode()
        kind = values.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)) or not len(values):
        return values
    # fast pass on the first byte (zero-copy binary view); the regex runs only when
    # some value may start a formula
    first = pc.binary_slice(values.view(pa.binary() if pa.types.is_string(kind)
                                        else pa.large_binary()), 0, 1)  # fmt: skip
    if not pc.any(pc.is_in(first, value_set=_first_bytes())).as_py():
        return values
    starts = pc.fill_null(pc.match_substring_regex(values, FORMULA_START), False)
    quoted = pc.binary_join_element_wise(
        typed_text(_QUOTE_MARK, values), values, typed_text("", values)
    )
    return pc.if_else(starts, quoted, values)


def _neutral_name(name: str) -> str:
    first = neutralise_formulas(pa.array([name], pa.string()))[0].as_py()
    return str(first)


class CsvEncoder(_WriterEncoder):
    """CSV, formula cells neutralised unless ``raw`` (see the module docstring)."""

    media_type = FORMATS["csv"]

    def __init__(self, *, bom: bool = False, raw: bool = False) -> None:
        super().__init__()
        self._bom = bom
        self._raw = raw
        self._schema: pa.Schema | None = None

    def _open(self, sink: _Sink, schema: pa.Schema) -> Any:
        if not self._raw:
            schema = pa.schema([pa.field(_neutral_name(f.name), _csv_type(f.type)) for f in schema])
            self._schema = schema
        return pacsv.CSVWriter(sink, schema)

    def batch(self, batch: pa.RecordBatch) -> bytes:
        if not self._raw and batch.num_rows and self._schema is not None:
            columns = [neutralise_formulas(column) for column in batch.columns]
            batch = pa.RecordBatch.from_arrays(columns, schema=self._schema)
        return super().batch(batch)

    def begin(self, schema: pa.Schema, header: dict[str, Any]) -> bytes:
        """The header line, after a UTF-8 BOM when asked (Excel reads UTF-8 by it)."""
        return (b"\xef\xbb\xbf" if self._bom else b"") + super().begin(schema, header)


def _csv_type(kind: pa.DataType) -> pa.DataType:
    """The column type the CSV writer sees: dictionaries are decoded to be checked."""
    return kind.value_type if pa.types.is_dictionary(kind) else kind


class ArrowEncoder(_WriterEncoder):
    """The Arrow IPC stream; the first batch is held back until the next one (or the
    end) comes, so that the schema, written with it, says the cut whenever it is known
    by then (see the module docstring)."""

    media_type = FORMATS["arrow"]

    def __init__(self) -> None:
        super().__init__()
        self._schema: pa.Schema | None = None
        self._held: pa.RecordBatch | None = None

    def _open(self, sink: _Sink, schema: pa.Schema) -> Any:
        return pa.ipc.new_stream(sink, schema)

    def begin(self, schema: pa.Schema, header: dict[str, Any]) -> bytes:
        self._schema = schema
        return b""

    def _start(self, cut: bool | None) -> None:
        if self._writer is None and self._schema is not None:
            marked = self._schema.with_metadata(
                {**(self._schema.metadata or {}), TRUNCATED_KEY: cut_text(cut)}
            )
            self._writer = self._open(self._sink, marked)
            if self._held is not None:
                self._writer.write_batch(self._held.replace_schema_metadata(marked.metadata))
                self._held = None

    def batch(self, batch: pa.RecordBatch) -> bytes:
        if not batch.num_rows:
            return b""
        if self._writer is None and self._held is None:
            self._held = batch
            return b""
        self._start(self.cut() if self.cut is not None else None)
        return super().batch(batch)

    def end(self, trailer: dict[str, Any]) -> bytes:
        truncated = bool(trailer.get("truncated"))
        self._start(truncated)
        if self._writer is not None and self._schema is not None:
            empty = pa.RecordBatch.from_pylist([], schema=self._schema)
            self._writer.write_batch(empty, custom_metadata={TRUNCATED_KEY: cut_text(truncated)})
        return super().end(trailer)


class ParquetEncoder(_WriterEncoder):
    """Parquet; the cut goes into the footer's key-value metadata, written last."""

    media_type = FORMATS["parquet"]

    def _open(self, sink: _Sink, schema: pa.Schema) -> Any:
        return pq.ParquetWriter(sink, schema)

    def end(self, trailer: dict[str, Any]) -> bytes:
        if self._writer is not None:
            self._writer.add_key_value_metadata(
                {TRUNCATED_KEY: cut_text(bool(trailer.get("truncated")))}
            )
        return super().end(trailer)


def make_encoder(
    fmt: str, *, bom: bool = False, cut: CutProbe | None = None,
    text_columns: frozenset[str] = frozenset(),
) -> Encoder:  # fmt: skip
    """The encoder of ``fmt``; ``cut`` tells it, while it writes, whether the result
    has been cut yet (only Arrow asks before the end); ``text_columns`` are the integer
    columns that hold codes (only xlsx, which types its cells, asks)."""
    encoder = _encoder(fmt, bom=bom, text_columns=text_columns)
    if cut is not None:
        encoder.cut = cut
    return encoder


def _encoder(fmt: str, *, bom: bool, text_columns: frozenset[str]) -> Encoder:
    if fmt == "json":
        return JsonEncoder()
    if fmt == "ndjson":
        return NdjsonEncoder()
    if fmt in ("csv", "csv_raw"):
        return CsvEncoder(bom=bom, raw=fmt == "csv_raw")
    if fmt == "arrow":
        return ArrowEncoder()
    if fmt == "parquet":
        return ParquetEncoder()
    if fmt == "xlsx":
        from gateway.enforcement.query.xlsx import XlsxEncoder  # only when asked for

        return XlsxEncoder(text_columns=text_columns)
    raise BadRequest(f"unknown format {fmt!r}")
