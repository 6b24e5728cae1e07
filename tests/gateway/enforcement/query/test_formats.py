"""Output formats: the vectorised JSON / NDJSON rows parse to exactly what the per-row
``orjson.dumps(row)`` path gives (non-finite floats as null), for any value (hypothesis),
in every column type the adapters produce; other types go through orjson unchanged."""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import math
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.enforcement.query.formats import (
    SMALL_BATCH_ROWS,
    json_escape,
    json_rows,
    make_encoder,
)

FAST = settings(max_examples=80, deadline=None)
HEADER = {"columns": [{"name": "a"}], "decision_id": "d-1", "policy_version": "v1"}

# text with what JSON must escape, plus emoji, CJK and other non-ASCII
TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from('"\\\x00\x01\x08\t\n\x0b\x0c\r\x1f\x7f\u2028😀中文'),
    ),
    max_size=12,
)
TIMESTAMPS = st.datetimes(
    min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31, 23, 59, 59)
)
COLUMNS: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "text": (pa.string(), TEXT),
    "big_text": (pa.large_string(), TEXT),
    "int": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "small_int": (pa.int8(), st.integers(-128, 127)),
    "float": (pa.float64(), st.floats()),
    "float32": (pa.float32(), st.floats(width=32)),
    "bool": (pa.bool_(), st.booleans()),
    "date": (pa.date32(), st.dates()),
    "ts_us": (pa.timestamp("us"), TIMESTAMPS),
    "ts_ms": (pa.timestamp("ms"), TIMESTAMPS.map(lambda d: d.replace(microsecond=0))),
    "ts_s": (pa.timestamp("s"), TIMESTAMPS.map(lambda d: d.replace(microsecond=0))),
}


def _expected(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """What the per-row path means: ``to_pylist`` with non-finite floats as None, as
    orjson writes and reads it back."""
    rows = [
        {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in r.items()}
        for r in batch.to_pylist()
    ]
    return [orjson.loads(orjson.dumps(r)) for r in rows]


def _lines(batch: pa.RecordBatch) -> list[bytes]:
    """The NDJSON lines of the vectorised path, whatever the batch size."""
    return [v.encode() for v in json_rows(batch, after="\n").to_pylist()]


def _check(batch: pa.RecordBatch) -> None:
    lines = _lines(batch)
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    parsed = [orjson.loads(line) for line in lines]
    assert parsed == _expected(batch)
    for name in batch.schema.names:
        kind = batch.schema.field(name).type
        originals = batch.column(name).to_pylist()
        got = [row[name] for row in parsed]
        if pa.types.is_floating(kind):
            for original, value in zip(originals, got, strict=True):
                if original is None or not math.isfinite(original):
                    assert value is None
                else:  # a float, the same float, the same sign of zero
                    assert isinstance(value, float) and value == original
                    assert math.copysign(1, value) == math.copysign(1, original)
    if not any(pa.types.is_floating(f.type) for f in batch.schema):
        # no float formatting choice involved: byte for byte orjson's text
        assert lines == [orjson.dumps(r) + b"\n" for r in batch.to_pylist()]


@st.composite
def batches(draw: st.DrawFn) -> pa.RecordBatch:
    names = draw(st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=6, unique=True))
    n = draw(st.integers(0, 12))
    arrays, fields = [], []
    for name in names:
        kind, values = COLUMNS[name]
        column = draw(st.lists(st.one_of(st.none(), values), min_size=n, max_size=n))
        arrays.append(pa.array(column, kind))
        fields.append(pa.field(name, kind))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


@FAST
@given(batches())
def test_rows_parse_to_the_per_row_values(batch: pa.RecordBatch) -> None:
    _check(batch)


@FAST
@given(batches(), st.integers(0, 5))
def test_sliced_batches(batch: pa.RecordBatch, cut: int) -> None:
    """The broker slices batches (offset, limit): offsets into shared buffers."""
    _check(batch.slice(min(cut, batch.num_rows)))
    _check(batch.slice(0, batch.num_rows // 2))


@FAST
@given(st.lists(st.one_of(st.none(), TEXT), max_size=20))
def test_escaped_strings_are_orjson_text(values: list[str | None]) -> None:
    escaped = json_escape(pa.array(values, pa.string())).to_pylist()
    for value, body in zip(values, escaped, strict=True):
        if value is None:
            assert body is None
        else:
            assert ('"' + body + '"').encode() == orjson.dumps(value)


@FAST
@given(st.lists(st.floats(), min_size=1, max_size=30))
def test_floats_round_trip(values: list[float]) -> None:
    _check(pa.record_batch({"x": pa.array(values, pa.float64())}))


def test_float_edge_cases() -> None:
    values = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        1e15,
        1e16,
        1e21,
        1e-7,
        5e-324,
        1.7976931348623157e308,
        0.1,
        123456789.0,
        2.0**53,
        math.nan,
        math.inf,
        -math.inf,
        None,
    ]
    batch = pa.record_batch({"x": pa.array(values, pa.float64())})
    _check(batch)
    assert _lines(batch)[:3] == [b'{"x":0.0}\n', b'{"x":-0.0}\n', b'{"x":1.0}\n']
    assert _lines(batch)[-4:] == [b'{"x":null}\n'] * 4


def test_keys_are_escaped_once() -> None:
    batch = pa.record_batch({'a"b\\c': [1, 2], "名字\n": ["x", None], "": [True, False]})
    _check(batch)
    assert _lines(batch)[0] == orjson.dumps(batch.to_pylist()[0]) + b"\n"


def test_columns_with_one_text_for_every_row() -> None:
    """All-null (a redacted column), the null type, dictionaries, no column at all."""
    batch = pa.record_batch(
        {
            "redacted": pa.nulls(3, pa.string()),
            "none": pa.nulls(3),
            "dict": pa.array(["a", None, "a"]).dictionary_encode(),
            "n": pa.array([1, 2, 3]),
        }
    )
    _check(batch)
    assert _lines(pa.record_batch({"a": pa.nulls(2)})) == [b'{"a":null}\n'] * 2
    empty = pa.RecordBatch.from_pydict({"a": pa.nulls(2)}).select([])
    assert _lines(empty) == [b"{}\n"] * 2


def test_other_types_go_through_orjson() -> None:
    batch = pa.record_batch(
        {
            "list": pa.array([[1, 2], None, []], pa.list_(pa.int64())),
            "struct": pa.array([{"k": "v"}, None, {"k": None}], pa.struct([("k", pa.string())])),
            "tz": pa.array([datetime.datetime(2026, 1, 2, 3, 4, 5)] * 3, pa.timestamp("us", "UTC")),
            "text": ["a", "b", None],
        }
    )
    _check(batch)
    with pytest.raises(TypeError):  # as the per-row path: orjson has no Decimal
        json_rows(pa.record_batch({"d": pa.array([decimal.Decimal("1.5")])}))


def _document(fmt: str, batches: list[pa.RecordBatch]) -> bytes:
    encoder = make_encoder(fmt)
    out = encoder.begin(batches[0].schema, HEADER)
    for batch in batches:
        out += encoder.batch(batch)
    return out + encoder.end({"truncated": True, "row_count": 7})


def _sample(n: int) -> pa.RecordBatch:
    return pa.record_batch(
        {
            "id": pa.array([f'i"d\\{i}\n' for i in range(n)]),
            "n": pa.array([i if i % 3 else None for i in range(n)], pa.int64()),
            "x": pa.array([i / 7 if i % 5 else math.nan for i in range(n)]),
            "day": pa.array([datetime.date(2026, 1, 1 + i % 28) for i in range(n)]),
            "at": pa.array(
                [datetime.datetime(2026, 1, 1, 0, 0, i % 60, (i % 2) * 1500) for i in range(n)],
                pa.timestamp("us"),
            ),
            "ok": pa.array([i % 2 == 0 for i in range(n)]),
        }
    )


@pytest.mark.parametrize("n", [1, SMALL_BATCH_ROWS - 1, SMALL_BATCH_ROWS, 1000])
def test_json_document_and_ndjson_carry_the_same_rows(n: int) -> None:
    """Small batches take the per-row path, large ones the vectorised one: same
    document either way, and NDJSON lines equal the JSON document's rows."""
    whole = _sample(n)
    parts = [whole.slice(0, n // 2), whole.slice(n // 2, 0), whole.slice(n // 2)]
    expected = _expected(whole)
    document = orjson.loads(_document("json", parts))
    assert list(document) == [
        "columns",
        "decision_id",
        "policy_version",
        "rows",
        "truncated",
        "row_count",
    ]
    assert document["rows"] == expected
    assert document["truncated"] is True and document["row_count"] == 7
    nd = _document("ndjson", parts)
    assert nd.endswith(b"\n") and [orjson.loads(x) for x in nd.splitlines()] == expected
    assert nd == _document("ndjson", [whole])


def test_json_document_without_rows() -> None:
    empty = _sample(0)
    assert orjson.loads(_document("json", [empty]))["rows"] == []
    assert _document("ndjson", [empty]) == b""


# -- CSV: formula cells neutralised (issue 11, class 6) --

FORMULA_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from("=+-@\t\r\n\"',;＝＠ a1中"), st.characters(codec="utf-8")),
    max_size=8,
)
_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def _csv_cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


@FAST
@given(st.lists(st.one_of(st.none(), FORMULA_TEXT), min_size=1, max_size=40))
def test_csv_cells_never_start_a_formula_and_raw_keeps_values(values: list[str | None]) -> None:
    batch = pa.record_batch({"=name": pa.array(values, pa.string()),
                             "n": pa.array(range(-len(values), 0), pa.int64())})  # fmt: skip
    safe = make_encoder("csv")
    out = safe.begin(batch.schema, HEADER) + safe.batch(batch) + safe.end({})
    rows = _csv_cells(out)
    assert rows[0] == ["'=name", "n"]
    for row, value in zip(rows[1:], values, strict=True):
        expected = "" if value is None else ("'" + value if value.startswith(_STARTS) else value)
        assert row[0] == expected
        assert int(row[1]) < 0  # numbers untouched, negative ones too
    raw = make_encoder("csv_raw")
    out = raw.begin(batch.schema, HEADER) + raw.batch(batch) + raw.end({})
    assert [r[0] for r in _csv_cells(out)[1:]] == [v or "" for v in values]


def test_csv_neutralised_cells_are_quoted_also_in_dictionaries() -> None:
    column = pa.array(["=1+2", "ok", "@x"]).dictionary_encode()
    batch = pa.record_batch({"a": column, "b": pa.array(["-1", None, "+"], pa.large_string())})
    enc = make_encoder("csv")
    out = enc.begin(batch.schema, HEADER) + enc.batch(batch) + enc.end({})
    assert out.splitlines() == [b'"a","b"', b'"\'=1+2","\'-1"', b'"ok",', b'"\'@x","\'+"']
