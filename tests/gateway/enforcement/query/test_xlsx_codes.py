"""Codes stored as INTEGER are text cells in ``?format=xlsx`` (issue 16): a source that
keeps region codes, postcodes or phone numbers in integer columns must not hand the
analyst numbers to be summed or shown as ``4.30E+05``. Which columns are codes comes
from the catalog (the field's PI category, its name), never
from the type alone; quantities in integer columns stay numbers."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from catalog.entries import CatalogEntry, FieldEntry
from gateway.enforcement.query.code_fields import CODE_NAME, code_columns
from gateway.enforcement.query.plan import OutputColumn
from tests.gateway.demo_app import DemoGateway

CASE = {"purpose": "supervision", "case_ref": "MZ-2026-016"}
ROWS = [(430121, 430121101001, 410100, 13800138000, 3, 350.5),
        (430102, 430102001001, 410001, 13912345678, 1, 120.0)]  # fmt: skip


def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


@pytest.fixture(scope="module")
def dataset(gw_sqlite: DemoGateway) -> str:
    """A steward registers a roll whose codes are INTEGER columns (in the demo's
    directory, an allowed file root)."""
    path: Path = gw_sqlite.settings.demo_data_dir / "roll.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE roll (county_code INTEGER, village_code INTEGER, "
                     "zip INTEGER, contact INTEGER, household_size INTEGER, "
                     "amount DOUBLE PRECISION)")  # fmt: skip
        conn.executemany("INSERT INTO roll VALUES (?, ?, ?, ?, ?, ?)", ROWS)
    conn.close()
    gw, carl = gw_sqlite, gw_sqlite.headers("carl")
    _ok(gw.client.post("/api/v1/sources", headers=carl, json={
        "id": "civil-roll", "department": "civil", "kind": "sqlite", "display_name": "roll",
        "settings": {"url": f"sqlite:///{path}"}}), 201)  # fmt: skip
    _ok(gw.client.post("/api/v1/sources/civil-roll/introspect", headers=carl))
    _ok(gw.client.post("/api/v1/datasets", headers=carl, json={
        "source_id": "civil-roll", "object_name": "roll", "dataset_id": "civil.roll",
        "title_zh": "名册", "title_en": "Roll",
        "allowed_purposes": ["supervision"]}), 201)  # fmt: skip
    plain = ("county_code", "village_code", "zip", "household_size", "amount")
    fields = {name: {"level": "L1", "pi_category": "none"} for name in plain}
    fields["contact"] = {"level": "L1", "pi_category": "phone", "mask_override": None}
    _ok(gw.client.patch("/api/v1/datasets/civil.roll", headers=carl,
                        json={"fields": fields}))  # fmt: skip
    _ok(gw.client.post("/api/v1/datasets/civil.roll/publish", headers=carl))
    return "civil.roll"


def test_integer_codes_are_text_cells_and_quantities_numbers(
    gw_sqlite: DemoGateway, dataset: str
) -> None:
    resp = gw_sqlite.query("dora", dataset, {**CASE, "order_by": [{"field": "county_code"}]},
                           format="xlsx")  # fmt: skip
    assert resp.status_code == 200, resp.text
    rows = list(openpyxl.load_workbook(io.BytesIO(resp.content))["result"]
                .iter_rows(values_only=True))  # fmt: skip
    header, *values = rows
    got = [dict(zip(header, row, strict=True)) for row in values]
    first = got[0]
    # names saying code or postcode: text, every digit
    assert (first["county_code"], first["village_code"], first["zip"]) == (
        "430102", "430102001001", "410001")  # fmt: skip
    assert isinstance(first["contact"], str)  # a phone (PI category), masked or not
    assert first["household_size"] == 1 and first["amount"] == 120.0  # quantities
    json_rows = gw_sqlite.query("dora", dataset, {**CASE, "order_by": [{"field": "county_code"}]})
    assert [str(r["village_code"]) for r in json_rows.json()["rows"]] == [
        r["village_code"] for r in got]  # fmt: skip


def test_an_aggregate_groups_by_a_code_as_text_and_counts_as_numbers(
    gw_sqlite: DemoGateway, dataset: str
) -> None:
    body = {**CASE, "group_by": ["county_code"], "aggregates": [{"fn": "count", "as": "zip"}]}
    resp = gw_sqlite.query("dora", dataset, body, format="xlsx")
    assert resp.status_code == 200, resp.text
    rows = list(openpyxl.load_workbook(io.BytesIO(resp.content))["result"]
                .iter_rows(values_only=True))  # fmt: skip
    assert rows[0][:2] == ("county_code", "zip")
    for area, count, *_ in rows[1:]:
        assert isinstance(area, str) and area.isdigit()
        assert count is None or isinstance(count, int)  # a count named like a code: a number


@pytest.mark.parametrize(("name", "code"), [
    ("region_code", True), ("zip", True), ("account_no", True), ("phone", True),
    ("id_number", True), ("行政区划代码", True), ("户籍编号", True), ("household_size", False),
    ("amount", False), ("notice", False), ("people", False), ("zipper_count", False),
])  # fmt: skip
def test_names_that_say_code(name: str, code: bool) -> None:
    assert bool(CODE_NAME.search(name)) is code


def test_only_columns_of_field_values_count() -> None:
    field = FieldEntry(name="n", type="int64", level="L1", pi_category="none",
                       mask_override=None)  # fmt: skip
    coded = FieldEntry(name="x", type="int64", level="L1", pi_category="uscc",
                       mask_override=None)  # fmt: skip
    entry = CatalogEntry.__new__(CatalogEntry)
    object.__setattr__(entry, "fields", (field, coded))
    columns = [OutputColumn("n", "aggregate", "count"), OutputColumn("x", "mask", "hash")]
    assert code_columns(entry, columns) == frozenset({"x"})
