"""Output formats: each encoder turns masked Arrow batches into bytes, incrementally.

Encoders never hold the whole result (Parquet and Arrow write through a small sink
that hands each written chunk on), so a 1,000,000-row stream runs in bounded memory.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from catalog.errors import BadRequest

FORMATS = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}
_ACCEPT = {
    "application/json": "json",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/vnd.apache.arrow.stream": "arrow",
}


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

    @abstractmethod
    def begin(self, schema: pa.Schema, header: dict[str, Any]) -> bytes: ...

    @abstractmethod
    def batch(self, batch: pa.RecordBatch) -> bytes: ...

    @abstractmethod
    def end(self, trailer: dict[str, Any]) -> bytes: ...


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
        rows = b",".join(orjson.dumps(r) for r in batch.to_pylist())
        if self._first:
            self._first = False
            return rows
        return b"," + rows

    def end(self, trailer: dict[str, Any]) -> bytes:
        return b"]," + orjson.dumps(trailer)[1:]


class NdjsonEncoder(Encoder):
    media_type = FORMATS["ndjson"]

    def begin(self, schema: pa.Schema, header: dict[str, Any]) -> bytes:
        return b""

    def batch(self, batch: pa.RecordBatch) -> bytes:
        if batch.num_rows == 0:
            return b""
        return b"\n".join(orjson.dumps(r) for r in batch.to_pylist()) + b"\n"

    def end(self, trailer: dict[str, Any]) -> bytes:
        return b""


class CsvEncoder(Encoder):
    media_type = FORMATS["csv"]

    def __init__(self, *, bom: bool = False) -> None:
        self._bom = bom
        self._sink = _Sink()
        self._writer: pacsv.CSVWriter | None = None

    def begin(self, schema: pa.Schema, header: dict[str, Any]) -> bytes:
        self._writer = pacsv.CSVWriter(self._sink, schema)
        return (b"\xef\xbb\xbf" if self._bom else b"") + self._sink.take()

    def batch(self, batch: pa.RecordBatch) -> bytes:
        assert self._writer is not None
        self._writer.write_batch(batch)
        return self._sink.take()

    def end(self, trailer: dict[str, Any]) -> bytes:
        if self._writer is not None:
            self._writer.close()
        return self._sink.take()


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


class ArrowEncoder(_WriterEncoder):
    media_type = FORMATS["arrow"]

    def _open(self, sink: _Sink, schema: pa.Schema) -> Any:
        return pa.ipc.new_stream(sink, schema)


class ParquetEncoder(_WriterEncoder):
    media_type = FORMATS["parquet"]

    def _open(self, sink: _Sink, schema: pa.Schema) -> Any:
        return pq.ParquetWriter(sink, schema)


def make_encoder(fmt: str, *, bom: bool = False) -> Encoder:
    if fmt == "json":
        return JsonEncoder()
    if fmt == "ndjson":
        return NdjsonEncoder()
    if fmt == "csv":
        return CsvEncoder(bom=bom)
    if fmt == "arrow":
        return ArrowEncoder()
    if fmt == "parquet":
        return ParquetEncoder()
    raise BadRequest(f"unknown format {fmt!r}")
