"""``?format=xlsx`` read back as spreadsheet clients read it (issue 16): openpyxl
(and LibreOffice headless where installed) find 18-digit IDs intact as text, dates as
dates, amounts as numbers, and formula-like text neutralised."""

from __future__ import annotations

import csv
import datetime
import decimal
import gc
import io
import shutil
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

from gateway.enforcement.query.formats import make_encoder
from gateway.enforcement.query.xlsx import SHEET_ROWS
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-001"}
ID = "320581199001011234"
DDE = "=cmd|' /C calc'!A0"
BATCH = pa.record_batch({
    "id_number": pa.array([ID, "43010219800101002X", DDE], pa.string()),
    "phone": pa.array(["013800138000", "+8613800138000", None], pa.string()),
    "account": pa.array([123456789012345678, 42, -7], pa.int64()),
    "born": pa.array([datetime.date(1990, 1, 1), datetime.date(1980, 1, 1), None]),
    "paid_at": pa.array([datetime.datetime(2026, 1, 2, 3, 4, 5)] * 3, pa.timestamp("us")),
    "amount": pa.array([decimal.Decimal("1234.50"), decimal.Decimal("0.10"), None],
                       pa.decimal128(12, 2)),
    "ratio": pa.array([0.5, float("nan"), 2.0]),
    "@formula_name": pa.array(["+1", "-2", "＝3"], pa.string()),
})  # fmt: skip


def _xlsx(batches: list[pa.RecordBatch], truncated: bool = False) -> bytes:
    encoder = make_encoder("xlsx")
    out = encoder.begin(batches[0].schema, {"decision_id": "d-1", "policy_version": "v1"})
    for batch in batches:
        out += encoder.batch(batch)
    return out + b"".join(encoder.tail({"truncated": truncated, "row_count": 3}))


def test_cells_are_typed_from_the_columns_not_guessed() -> None:
    book = openpyxl.load_workbook(io.BytesIO(_xlsx([BATCH])))
    rows = list(book["result"].iter_rows(values_only=True))
    header, first, second, third = rows
    assert header[-1] == "'@formula_name"
    assert first[0] == ID and isinstance(first[0], str)  # 18 digits, as text
    assert second[0] == "43010219800101002X"
    assert first[1] == "013800138000"  # the leading zero kept
    assert first[2] == "123456789012345678"  # a double would round it: text
    assert second[2] == 42 and third[2] == -7  # small integers are numbers
    assert first[3] == datetime.datetime(1990, 1, 1)  # a date cell (openpyxl: datetime)
    assert book["result"]["D2"].is_date and book["result"]["E2"].is_date
    assert first[4] == datetime.datetime(2026, 1, 2, 3, 4, 5)
    assert first[5] == pytest.approx(1234.5) and isinstance(first[5], float)
    assert second[6] is None  # NaN: blank, as JSON's null
    assert third[0] == "'" + DDE  # neutralised as in the CSV
    assert [r[-1] for r in (first, second, third)] == ["'+1", "'-2", "'＝3"]
    assert third[1] is None and third[3] is None
    for cell in book["result"]["A"]:
        assert cell.data_type == "s"  # never a formula
    about = dict(book["sluice"].iter_rows(values_only=True))
    assert about == {"truncated": "false", "row_count": "3", "decision_id": "d-1",
                     "policy_version": "v1"}  # fmt: skip


def test_a_sheet_that_fills_continues_on_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gateway.enforcement.query.xlsx.SHEET_ROWS", 3)
    batch = pa.record_batch({"n": list(range(5))})
    book = openpyxl.load_workbook(io.BytesIO(_xlsx([batch])))
    assert book.sheetnames == ["result", "result 2", "result 3", "sluice"]
    values = [v for name in book.sheetnames[:3] for (v,) in book[name].iter_rows(values_only=True)]
    assert values == ["n", 0, 1, "n", 2, 3, "n", 4]
    assert SHEET_ROWS == 1_048_576


def test_xlsx_over_http(gw_sqlite: DemoGateway) -> None:
    resp = gw_sqlite.query("alice", DIBAO, {"fields": ["id_number", "region_code"],
                                            "limit": 5, **CASE}, format="xlsx")  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")  # fmt: skip
    assert resp.headers["Sluice-Truncated"] == "true"
    json_rows = gw_sqlite.query("alice", DIBAO, {"fields": ["id_number", "region_code"],
                                                 "limit": 5, **CASE}).json()["rows"]  # fmt: skip
    book = openpyxl.load_workbook(io.BytesIO(resp.content))
    rows = list(book["result"].iter_rows(values_only=True))
    assert rows[0] == ("id_number", "region_code")
    assert [dict(zip(rows[0], r, strict=True)) for r in rows[1:]] == json_rows
    assert all(isinstance(r[0], str) and len(r[0]) == 18 for r in rows[1:])


def _soffice() -> str | None:
    return shutil.which("libreoffice") or shutil.which("soffice")


@pytest.mark.libreoffice
def test_libreoffice_reads_ids_as_text(tmp_path: Path) -> None:
    source = tmp_path / "result.xlsx"
    source.write_bytes(_xlsx([BATCH]))
    soffice = _soffice()
    if soffice is None:
        pytest.fail("LibreOffice is missing: `make test` installs it (make office)")
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/profile",
                    "--convert-to", "csv", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    with (tmp_path / "result.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[1][0] == ID and rows[1][2] == "123456789012345678"
    assert rows[1][1] == "013800138000"
    assert rows[3][0] == "'" + DDE


EDGES = pa.record_batch({
    "text": pa.array(["a&b<c>d", " lead ", "ctl\x01\x1f", "_x0041_", "cr\rlf", "中文", None],
                     pa.large_string()),
    "i32": pa.array([1, None, -5, 0, 2, 3, 4], pa.int32()),
    "u64": pa.array([2**63, 1, 2, 3, 4, 5, 6], pa.uint64()),
    "i64": pa.array([-(2**63), -(10**15), -(10**15) + 1, 0, 1, 2, 3], pa.int64()),
    "dec0": pa.array([10**17, 5, None, 1, 2, 3, 4], pa.decimal128(20, 0)),
    "old": pa.array([datetime.date(1899, 1, 1), datetime.date(1900, 3, 1), None, None, None,
                     None, None]),
    "aware": pa.array([datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)] * 7,
                      pa.timestamp("ms", "Asia/Shanghai")),
    "flag": pa.array([True, False, None, True, False, True, False]),
    "when": pa.array([datetime.time(1, 2, 3)] * 7),
    "dict": pa.array(["=x", "y", None, "y", "y", "y", "y"]).dictionary_encode(),
    "region": pa.array([430102, 1, None, 3, 4, 5, 6], pa.int64()),
})  # fmt: skip


def test_text_is_escaped_and_every_column_type_is_a_cell() -> None:
    encoder = make_encoder("xlsx", text_columns=frozenset({"region"}))
    encoder.begin(EDGES.schema, {"decision_id": "d<&>"})
    encoder.batch(EDGES)
    data = b"".join(encoder.tail({"truncated": True, "row_count": 7}))
    book = openpyxl.load_workbook(io.BytesIO(data))
    cols = list(zip(*book["result"].iter_rows(min_row=2, values_only=True), strict=True))
    text, i32, u64, i64, dec0, old, aware, flag, when, dict_, region = cols
    # XML's specials round-trip; characters XML 1.0 cannot hold are stored as a
    # spreadsheet stores them (_xHHHH_, decoded by Excel and LibreOffice), and a literal
    # _xHHHH_ is escaped so it is not decoded
    assert text == ("a&b<c>d", " lead ", "ctl_x0001__x001F_", "_x005F_x0041_", "cr\rlf",
                    "中文", None)  # fmt: skip
    assert i32 == (1, None, -5, 0, 2, 3, 4)
    assert u64[0] == str(2**63) and u64[1] == 1
    assert i64[:3] == (str(-(2**63)), str(-(10**15)), -(10**15) + 1)  # never rounded
    assert dec0[0] == str(10**17) and dec0[1] == 5
    assert old[0] == "1899-01-01" and old[1] == datetime.datetime(1900, 3, 1)
    assert aware[0] == datetime.datetime(2026, 1, 1, 12)  # in UTC
    assert flag[:3] == (True, False, None)
    assert when[0] == "01:02:03" and dict_[:3] == ("'=x", "y", None)
    assert region == ("430102", "1", None, "3", "4", "5", "6")  # a code: text
    assert book.custom_doc_props["sluice.truncated"].value is True
    assert dict(book["sluice"].iter_rows(values_only=True))["decision_id"] == "d<&>"


def test_the_workbook_is_written_through_not_held() -> None:
    """Each batch's XML goes to the temporary file as it comes: Arrow memory is back
    where it was after every batch, however many came."""
    encoder = make_encoder("xlsx")
    big = pa.record_batch({"id": pa.array([ID] * 20_000), "n": pa.array(range(20_000))})
    encoder.begin(big.schema, {})
    before = pa.total_allocated_bytes()
    for _ in range(10):
        encoder.batch(big)
        assert pa.total_allocated_bytes() - before < 1 << 20
    with zipfile.ZipFile(io.BytesIO(b"".join(encoder.tail({})))) as book:
        sheet = book.read("xl/worksheets/sheet1.xml")
    assert sheet.count(b"<row ") == 200_001
    assert sheet.endswith(b'<c r="B200001"><v>19999</v></c></row></sheetData></worksheet>')


def test_an_abandoned_workbook_leaves_no_thread_behind() -> None:
    """A client gone mid-download: the encoder is dropped without ``tail``; its
    deflating thread ends with it (and the temporary file goes)."""
    before = {t.ident for t in threading.enumerate()}
    encoder = make_encoder("xlsx")
    encoder.begin(BATCH.schema, {})
    encoder.batch(BATCH)
    del encoder
    gc.collect()
    for _ in range(100):
        if {t.ident for t in threading.enumerate()} <= before:
            break
        time.sleep(0.02)
    assert {t.ident for t in threading.enumerate()} <= before
