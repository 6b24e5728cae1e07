"""A result cut at its row cap says so in every format (issue 16): the
``Sluice-Truncated`` header on each, JSON's ``truncated``, Parquet's footer key-value
metadata, Arrow's schema metadata and closing batch, xlsx's ``sluice`` sheet — read back
by pyarrow and openpyxl, the clients analysts use."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway.enforcement.query.formats import TRUNCATED_KEY, make_encoder
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-001"}
FORMATS = ["json", "ndjson", "csv", "csv_raw", "parquet", "arrow", "xlsx"]
KEY = TRUNCATED_KEY.encode()


def _arrow_marks(data: bytes) -> tuple[str, list[str]]:
    """The schema's marker and the custom markers of the batches, in order."""
    reader = pa.ipc.open_stream(data)
    schema_mark = (reader.schema.metadata or {}).get(KEY, b"").decode()
    marks: list[str] = []
    while True:
        try:
            _, meta = reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            break
        if meta is not None and KEY in meta:
            marks.append(meta[KEY].decode())
    return schema_mark, marks


def _in_band(fmt: str, data: bytes) -> str | None:
    """What the body itself says about the cut (``None``: the format has no room)."""
    if fmt == "json":
        return "true" if orjson.loads(data)["truncated"] else "false"
    if fmt == "parquet":
        meta = pq.read_metadata(io.BytesIO(data)).metadata
        return str(meta[KEY].decode())
    if fmt == "arrow":
        return _arrow_marks(data)[1][-1]
    if fmt == "xlsx":
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        facts = {row[0]: row[1] for row in book["sluice"].iter_rows(values_only=True)}
        return str(facts["truncated"])
    return None


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_cut_result_says_so_in_every_format(gw_sqlite: DemoGateway, fmt: str) -> None:
    resp = gw_sqlite.query("arthur", DIBAO, {"fields": ["region_code"], "limit": 5, **CASE},
                           format=fmt)  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.headers["Sluice-Truncated"] == "true"
    assert _in_band(fmt, resp.content) in (None, "true")
    if fmt == "arrow":  # one batch: known when the schema was written
        assert _arrow_marks(resp.content)[0] == "true"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_whole_result_says_it_is_whole(gw_sqlite: DemoGateway, fmt: str) -> None:
    resp = gw_sqlite.query("alice", "audit.audit_findings", {"limit": 100000, **CASE},
                           format=fmt)  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.headers["Sluice-Truncated"] == "false"
    assert _in_band(fmt, resp.content) in (None, "false")


@pytest.mark.parametrize("fmt", ["json", "csv", "ndjson", "arrow", "parquet"])
def test_a_streamed_cut_result_never_claims_to_be_whole(gw_sqlite: DemoGateway, fmt: str) -> None:
    """Past the first 64 KiB the header leaves before the read ends: it says ``true`` if
    the cut was seen by then, else ``unknown`` — never ``false``; the body settles it."""
    resp = gw_sqlite.query("alice", DIBAO, {"limit": 700, **CASE}, format=fmt)
    assert resp.status_code == 200, resp.text
    if fmt in ("json", "csv", "ndjson"):
        assert "content-length" not in resp.headers  # it did stream
    assert resp.headers["Sluice-Truncated"] in ("true", "unknown")
    assert _in_band(fmt, resp.content) in (None, "true")


def _encode(fmt: str, batches: list[pa.RecordBatch], cut: Any, truncated: bool) -> bytes:
    encoder = make_encoder(fmt, cut=cut)
    out = encoder.begin(batches[0].schema, {})
    for batch in batches:
        out += encoder.batch(batch)
    return out + b"".join(encoder.tail({"truncated": truncated, "row_count": 0}))


def test_arrow_schema_says_unknown_when_the_cut_comes_later() -> None:
    batches = [pa.record_batch({"a": [1, 2]}), pa.record_batch({"a": [3]})]
    data = _encode("arrow", batches, lambda: None, True)
    assert _arrow_marks(data) == ("unknown", ["true"])
    assert pa.ipc.open_stream(data).read_all().column("a").to_pylist() == [1, 2, 3]
    # known by the second batch: the schema says it
    assert _arrow_marks(_encode("arrow", batches, lambda: True, True)) == ("true", ["true"])
    # a single batch is held to the end: always exact
    assert _arrow_marks(_encode("arrow", batches[:1], lambda: None, False)) == (
        "false", ["false"])  # fmt: skip


def test_parquet_footer_metadata_is_read_by_pyarrow() -> None:
    batches = [pa.record_batch({"a": [1, 2]}), pa.record_batch({"a": [3]})]
    for truncated in (True, False):
        data = _encode("parquet", batches, None, truncated)
        footer = pq.read_metadata(io.BytesIO(data)).metadata
        assert footer[KEY] == (b"true" if truncated else b"false")
        assert pq.read_table(io.BytesIO(data)).column("a").to_pylist() == [1, 2, 3]


COMPARISON: dict[str, Any] = {
    "left": {"dataset": "finance.payroll", "key": "id_number", "fields": ["name"]},
    "right": {"dataset": DIBAO, "key": "id_number", "fields": ["region_code"],
              "where": [{"field": "status", "op": "=", "value": "active"}]},
    "purpose": "supervision", "case_ref": "JW-CMP-1",
}  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_cut_comparison_says_so_in_every_format(gw_sqlite: DemoGateway, fmt: str) -> None:
    """A comparison is matched before its first byte: the header is always exact."""
    cut = gw_sqlite.compare("dora", {**COMPARISON, "limit": 1}, format=fmt)
    assert cut.status_code == 200, cut.text
    assert cut.headers["Sluice-Truncated"] == "true"
    assert _in_band(fmt, cut.content) in (None, "true")
    if fmt == "arrow":
        assert _arrow_marks(cut.content)[0] == "true"
    whole = gw_sqlite.compare("dora", COMPARISON, format=fmt)
    assert whole.status_code == 200, whole.text
    assert whole.headers["Sluice-Truncated"] == "false"
    assert _in_band(fmt, whole.content) in (None, "false")
