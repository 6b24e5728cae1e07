"""PostgreSQL's fast read path: ``COPY (SELECT …) TO STDOUT (FORMAT csv)`` parsed by Arrow.

Building Arrow arrays from Python tuples costs more than the database's own work on a
large result; here psycopg hands over the COPY byte stream and pyarrow's streaming CSV
reader parses it straight into columns of the explicit schema (``arrow_types``), so no
Python object is made per value.

Safety and exactness:

- The statement is the same compiled, parameterised ``SELECT`` as on the tuple path.
  COPY takes no server-side parameters, so psycopg merges them client-side with its own
  literal quoting (``PostgresClientQuery``, the connection's escaping rules): no value
  is ever formatted into SQL by Sluice.
- The path is taken only when it gives the same Arrow table as the tuple path. Before
  the COPY, the statement runs once with ``LIMIT 0`` (cheap: the executor stops at
  once; it also surfaces a missing column or table as the usual error) and every
  projected column's type OID must be one whose CSV text Arrow parses to the value
  psycopg's loader gives (``COMPATIBLE``: text, varchar, bpchar; int2/4/8; float4/8;
  bool; date; timestamp without time zone — ``decimal`` fields are cast to float8 by
  the statement). The session must use UTF-8 and ``DateStyle`` ISO. Anything else
  (``timestamptz``, ``numeric`` read as ``float64``, enums, another encoding …) reads
  tuples as before.
- CSV keeps NULL and the empty string apart: PostgreSQL writes NULL as an unquoted
  empty field and an empty string as ``""``; Arrow reads only the unquoted empty field
  as null (``null_values=[""]``, ``quoted_strings_can_be_null=False``), and keeps empty
  lines (a one-column row holding NULL). Quotes, delimiters, newlines, backslashes and
  any UTF-8 text are quoted by PostgreSQL and parsed back as written.
- Batches have the tuple path's sizes: ``FIRST_CHUNK`` rows first (first bytes leave
  early), then ``batch_size``; memory holds one batch as CSV bytes and as Arrow.
- The statement timeout keeps its per-fetch meaning from the cursor path: a watchdog
  cancels the COPY when the source takes longer than ``timeout_s`` to produce one batch,
  measured only while the gateway waits on the source. The session's own
  ``statement_timeout`` is lifted for the COPY (``SET LOCAL``, this transaction only):
  it would count the time a slow client takes to drain a large result, and a 1,000,000-
  row export to a client on a slow link would fail part-way.
- Leaving early (a ``GeneratorExit`` or an error) cancels the COPY on the server and
  drains it, so the pooled connection is clean.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Generator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv

from adapters.sql_compile import LIMIT

# PostgreSQL type OIDs whose COPY text parses, in Arrow, to what psycopg loads
_TEXT, _VARCHAR, _BPCHAR = 25, 1043, 1042
_INT2, _INT4, _INT8 = 21, 23, 20
_FLOAT4, _FLOAT8 = 700, 701
_BOOL, _DATE, _TIMESTAMP = 16, 1082, 1114
_IN_TRANSACTION = 2  # psycopg.pq.TransactionStatus.INTRANS: the LIMIT 0 probe opened one
COMPATIBLE: dict[str, frozenset[int]] = {
    "string": frozenset({_TEXT, _VARCHAR, _BPCHAR}),
    "int64": frozenset({_INT2, _INT4, _INT8}),
    "float64": frozenset({_FLOAT4, _FLOAT8}),
    "decimal": frozenset({_FLOAT4, _FLOAT8}),
    "bool": frozenset({_BOOL}),
    "date": frozenset({_DATE}),
    "timestamp": frozenset({_TIMESTAMP}),
}


def copy_compatible(raw: Any, sql: str, values: dict[str, Any], logical: list[str]) -> bool:
    """Whether the COPY path gives exactly the tuple path's result for this statement:
    run it with ``LIMIT 0`` and compare the result's column types (see module doc)."""
    info = raw.info
    if info.encoding != "utf-8" or not str(info.parameter_status("DateStyle")).startswith("ISO"):
        return False
    cursor = raw.cursor()
    try:
        cursor.execute(sql, {**values, LIMIT: 0})
        types = [d.type_code for d in cursor.description or ()]
    finally:
        cursor.close()
    if len(types) != len(logical):
        return False
    return all(oid in COMPATIBLE[kind] for oid, kind in zip(types, logical, strict=True))


def _options(schema: pa.Schema) -> tuple[list[str], Any, Any]:
    # positional column names: a projection may name one field twice
    names = [f"c{i}" for i in range(len(schema))]
    parse = pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
    convert = pcsv.ConvertOptions(
        column_types={n: f.type for n, f in zip(names, schema, strict=True)},
        null_values=[""],
        true_values=["t"],
        false_values=["f"],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    return names, parse, convert


class _Watchdog:
    """Cancels the running statement if the source keeps the gateway waiting longer
    than ``timeout_s`` (armed while waiting on the source, disarmed while the batch is
    handed on); the driver then raises ``QueryCanceled`` (SQLSTATE 57014), reported as a
    statement timeout.

    ``disarm`` waits for a cancel already on its way: PostgreSQL applies a cancel to
    whatever the backend runs when it arrives, so one still in flight when this
    connection went back to the pool could cancel somebody else's next query."""

    def __init__(self, raw: Any, timeout_s: float | None) -> None:
        self._raw = raw
        self._timeout_s = timeout_s
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def arm(self) -> None:
        self.disarm()
        if self._timeout_s:
            timer = threading.Timer(self._timeout_s, self._fire, args=(None,))
            timer.args = (timer,)
            timer.daemon = True
            self._timer = timer
            timer.start()

    def _fire(self, timer: threading.Timer) -> None:
        with self._lock:
            if self._timer is not timer:  # disarmed (or re-armed) meanwhile
                return
            with contextlib.suppress(Exception):  # a failed cancel: the read goes on
                self._raw.cancel_safe()

    def disarm(self) -> None:
        timer = self._timer
        if timer is not None:
            timer.cancel()
            with self._lock:  # a cancel being sent finishes before we go on
                self._timer = None


def copy_batches(
    raw: Any, sql: str, values: dict[str, Any], schema: pa.Schema, *, first: int, size: int,
    timeout_s: float | None = None,
) -> Generator[pa.RecordBatch, None, None]:  # fmt: skip
    """The statement's result as batches of ``schema``: ``first`` rows, then ``size``.

    PostgreSQL sends one COPY message per row, so a batch is exactly that many messages,
    parsed in one synchronous ``read_csv`` on an in-memory buffer (Arrow's streaming CSV
    reader would read ahead ~32 blocks from a Python file on a thread of its own). The
    parsed row count must equal the message count, or the read fails."""
    names, parse, convert = _options(schema)
    cursor = raw.cursor()
    dog = _Watchdog(raw, timeout_s)
    try:
        if timeout_s and raw.info.transaction_status == _IN_TRANSACTION:
            cursor.execute("SET LOCAL statement_timeout = 0")  # the watchdog bounds it
        dog.arm()  # the source's time only, never the client's
        with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", values) as copy:
            read = copy.read
            target = first
            while True:
                # copied into one buffer as they come: holding on to psycopg's
                # per-message buffers instead costs three times as much
                # after one empty line, skipped by the parser: Arrow drops a UTF-8 BOM
                # at the start of its input, and a value may begin with one
                data, count = bytearray(b"\n"), 0
                while count < target:
                    chunk = read()
                    if not chunk:
                        break
                    data += chunk
                    count += 1
                dog.disarm()
                if count:
                    yield _parse(data, count, schema, names, parse, convert)
                if count < target:
                    return
                target = size
                dog.arm()
    finally:
        dog.disarm()
        cursor.close()


def _parse(
    data: bytearray, rows: int, schema: pa.Schema, names: list[str], parse: Any, convert: Any
) -> pa.RecordBatch:
    read = pcsv.ReadOptions(
        column_names=names,
        skip_rows=1,  # the empty line in front (see copy_batches)
        block_size=max(len(data) + 1, 1 << 16),
        use_threads=False,
    )
    table = pcsv.read_csv(
        pa.py_buffer(data), read_options=read, parse_options=parse, convert_options=convert
    )
    if table.num_rows != rows:
        raise pa.ArrowInvalid("the COPY stream did not parse to one row per message")
    columns = [column.combine_chunks() for column in table.columns]
    return pa.RecordBatch.from_arrays(columns, schema=schema)
