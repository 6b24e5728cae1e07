"""The files adapter: CSV and Parquet push-down, and every way out of the root refused."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.base import AdapterLimits, Column, Filter, OrderBy, QueryPlan, RowFilter, SourceConfig
from adapters.registry import open_adapter, redact, validate_config
from catalog.errors import BadRequest, Forbidden, TooLarge

COLUMNS = (
    Column("id", "int64"),
    Column("code", "string"),
    Column("region", "string"),
    Column("amount", "float64"),
    Column("born", "date"),
)

CSV_TEXT = """id,code,region,amount,born
1,007,110101,10.5,1980-01-02
2,a%b,110102,20,1990-05-06
3,O'Brien,110201,,2000-12-31
4,张三,120101,5.25,
5,x'; DROP,abc101,1,1999-09-09
"""


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """(allowed root, department directory inside it) with a CSV and a Parquet file,
    a secret file outside the root and a symlink pointing at it."""
    allowed = tmp_path / "allowed"
    dept = allowed / "finance"
    (dept / "2024").mkdir(parents=True)
    (dept / "people.csv").write_text(CSV_TEXT, encoding="utf-8")
    (dept / "2024" / "more.csv").write_text("id,code\n9,z\n", encoding="utf-8")
    table = pa.table(
        {
            "id": pa.array(range(1, 1001), pa.int32()),
            "code": [f"c{i:04d}" for i in range(1, 1001)],
            "region": ["110101" if i % 2 else "120101" for i in range(1, 1001)],
            "amount": [i / 4 for i in range(1, 1001)],
            "born": [dt.date(1980, 1, 1) + dt.timedelta(days=i) for i in range(1, 1001)],
        }
    )
    pq.write_table(table, dept / "people.parquet", row_group_size=100)
    secret = tmp_path / "secret.csv"
    secret.write_text("id,code\n1,TOP-SECRET\n", encoding="utf-8")
    os.symlink(secret, dept / "escape.csv")
    os.symlink(tmp_path, dept / "up")
    return allowed, dept


def limits(allowed: Path, **kw: object) -> AdapterLimits:
    return AdapterLimits(file_roots=(str(allowed),), **kw)  # type: ignore[arg-type]


def query(name: str, *cols: str, **kw: object) -> QueryPlan:
    by_name = {c.name: c for c in COLUMNS}
    chosen = tuple(by_name[c] for c in cols) if cols else COLUMNS
    return QueryPlan(name, chosen, COLUMNS, **kw)  # type: ignore[arg-type]


def run(kind: str, dept: Path, allowed: Path, plan: QueryPlan, **kw: object) -> pa.Table:
    adapter = open_adapter(SourceConfig(kind, {"root": str(dept)}), limits(allowed, **kw))
    try:
        return pa.Table.from_batches(list(adapter.execute(plan)))
    finally:
        adapter.close()


def test_csv_introspection_projection_and_filters(layout: tuple[Path, Path]) -> None:
    allowed, dept = layout
    adapter = open_adapter(SourceConfig("csv", {"root": str(dept)}), limits(allowed))
    try:
        adapter.test_connection()
        names = [o.name for o in adapter.list_objects()]
        assert names == ["2024/more.csv", "people.csv"]  # the symlinks out are not listed
        sample = adapter.sample("people.csv", rows=2)
    finally:
        adapter.close()
    assert sample.num_rows == 2
    table = run("csv", dept, allowed, query("people.csv", "id", "code"))
    # The catalog says string: "007" keeps its zeros.
    assert table.column("code").to_pylist()[0] == "007"
    cases = [
        (Filter("code", "=", "O'Brien"), [3]),
        (Filter("code", "prefix", "a%"), [2]),
        (Filter("amount", ">=", 10), [1, 2]),
        (Filter("amount", "is_null", True), [3]),
        (Filter("born", "between", ["1980-01-01", "1999-12-31"]), [1, 2, 5]),
        (Filter("id", "in", [1, 5, 42]), [1, 5]),
        (Filter("id", "in", []), []),
        (Filter("code", "!=", "007"), [2, 3, 4, 5]),
        (Filter("code", "=", "x'; DROP"), [5]),
    ]
    for flt, expected in cases:
        got = run("csv", dept, allowed, query("people.csv", "id", filters=(flt,)))
        assert sorted(got.column("id").to_pylist()) == expected, flt
    rf = run(
        "csv", dept, allowed, query("people.csv", "id", row_filter=RowFilter("region", ("1101",)))
    )
    assert rf.column("id").to_pylist() == [1, 2]
    none = run("csv", dept, allowed, query("people.csv", "id", row_filter=RowFilter("region", ())))
    assert none.num_rows == 0 and none.schema.names == ["id"]


def test_parquet_stream_order_limit_offset(layout: tuple[Path, Path]) -> None:
    allowed, dept = layout
    plan = query(
        "people.parquet", "id", "born", filters=(Filter("id", ">", 10),), limit=250, offset=5
    )
    adapter = open_adapter(SourceConfig("parquet", {"root": str(dept)}), limits(allowed))
    try:
        batches = list(adapter.execute(QueryPlan(**{**plan.__dict__, "batch_size": 100})))
        info = adapter.list_objects()
    finally:
        adapter.close()
    assert [o.name for o in info] == ["people.parquet"]
    assert {c.name: c.type for c in info[0].columns}["born"] == "date"
    table = pa.Table.from_batches(batches)
    assert table.schema.field("id").type == pa.int64()  # int32 in the file, int64 in the catalog
    assert table.num_rows == 250
    assert table.column("id").to_pylist()[:2] == [16, 17]
    assert all(b.num_rows <= 100 for b in batches)
    ordered = run(
        "parquet",
        dept,
        allowed,
        query("people.parquet", "id", order_by=(OrderBy("amount", descending=True),), limit=3),
    )
    assert ordered.column("id").to_pylist() == [1000, 999, 998]
    capped = run("parquet", dept, allowed, query("people.parquet", "id"), max_rows=7)
    assert capped.num_rows == 7
    with pytest.raises(TooLarge):
        run(
            "parquet",
            dept,
            allowed,
            query("people.parquet", "id", order_by=(OrderBy("id"),)),
            max_rows=10,
        )


HOSTILE_NAMES = [
    ("../../etc/passwd", BadRequest),
    ("..", BadRequest),
    ("/etc/passwd", BadRequest),
    ("%2e%2e/%2e%2e/etc/passwd", BadRequest),
    ("%252e%252e/secret.csv", BadRequest),
    ("..%2fsecret.csv", BadRequest),
    ("people.csv\x00.parquet", BadRequest),
    ("..\\secret.csv", BadRequest),
    ("~/secret.csv", BadRequest),
    ("C:/secret.csv", BadRequest),
    ("escape.csv", Forbidden),  # a symlink to a file outside the root
    ("up/secret.csv", Forbidden),  # a symlinked directory outside the root
    ("missing.csv", BadRequest),
]


@pytest.mark.parametrize(("name", "error"), HOSTILE_NAMES, ids=[repr(n) for n, _ in HOSTILE_NAMES])
def test_hostile_object_names_are_refused(
    layout: tuple[Path, Path], name: str, error: type[Exception]
) -> None:
    allowed, dept = layout
    adapter = open_adapter(SourceConfig("csv", {"root": str(dept)}), limits(allowed))
    try:
        with pytest.raises(error) as info:
            list(
                adapter.execute(QueryPlan(name, (Column("id", "int64"),), (Column("id", "int64"),)))
            )
        with pytest.raises(error):
            adapter.sample(name, rows=1)
    finally:
        adapter.close()
    assert "TOP-SECRET" not in str(info.value)


def test_roots_are_checked_at_registration(layout: tuple[Path, Path], tmp_path: Path) -> None:
    allowed, dept = layout
    ok = SourceConfig("csv", {"root": str(dept)})
    validate_config(ok, limits(allowed))
    assert redact(ok) == f"csv:{dept}"
    for settings, error in [
        ({"root": str(tmp_path)}, Forbidden),  # the parent of the allowed root
        ({"root": "/etc"}, Forbidden),
        ({"root": f"{dept}/../.."}, BadRequest),
        ({"root": f"{dept}/up"}, Forbidden),  # symlink out
        ({"root": f"{dept}\x00"}, BadRequest),
        ({"path": str(dept / "escape.csv")}, Forbidden),
        ({"root": str(dept), "path": str(dept / "people.csv")}, BadRequest),
        ({}, BadRequest),
    ]:
        with pytest.raises(error):
            validate_config(SourceConfig("csv", settings), limits(allowed))
    with pytest.raises(Forbidden, match="no allowed file root"):
        validate_config(ok, AdapterLimits(file_roots=()))


def test_single_file_source(layout: tuple[Path, Path]) -> None:
    allowed, dept = layout
    config = SourceConfig("csv", {"path": str(dept / "people.csv")})
    adapter = open_adapter(config, limits(allowed))
    try:
        assert [o.name for o in adapter.list_objects()] == ["people.csv"]
        table = pa.Table.from_batches(list(adapter.execute(query("people.csv", "id"))))
        assert table.num_rows == 5
        with pytest.raises(BadRequest):
            list(adapter.execute(query("2024/more.csv", "id")))
    finally:
        adapter.close()


def test_unknown_fields_are_refused(layout: tuple[Path, Path]) -> None:
    allowed, dept = layout
    for plan in (
        query("people.csv", "id", filters=(Filter("secret; DROP", "=", "1"),)),
        query("people.csv", "id", order_by=(OrderBy("../id"),)),
        QueryPlan("people.csv", (Column("nope", "string"),), COLUMNS),
    ):
        with pytest.raises(BadRequest, match="unknown field"):
            run("csv", dept, allowed, plan)
