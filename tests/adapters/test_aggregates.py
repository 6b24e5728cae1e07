"""Aggregates at the source (issue 16): SQLite, PostgreSQL and MariaDB compile one
``GROUP BY`` and answer exactly what a direct ``GROUP BY`` on the same database answers;
CSV and Parquet files group with Arrow and HTTP sources in the gateway, and answer what
the same grouping computed in Python over the rows does. The row filter applies before
grouping everywhere; no caller filter reaches the source; too many groups is refused,
never cut."""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from adapters.aggregate import ROWS, Aggregate, AggregatePlan, ArrowGrouper, check_function
from adapters.base import Column, QueryPlan, RowFilter, SourceConfig
from adapters.files import FileAdapter
from adapters.http_json import HttpAdapter
from adapters.sql import SqlAdapter
from catalog.errors import BadRequest, TooLarge
from tests.adapters.sql_sources import limits_for
from tests.conftest import (
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database,
)

COLUMNS = (
    Column("id", "int64"),
    Column("region", "string"),
    Column("status", "string"),
    Column("n", "int64"),
    Column("amount", "decimal"),
    Column("score", "float64"),
    Column("born", "date"),
    Column("active", "bool"),
)
BY = {c.name: c for c in COLUMNS}
REGIONS = ["110101", "110102", "110201", "120101", None]
STATUSES = ["active", "suspended", None]


def _row(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "region": REGIONS[i % 5] if i % 11 else REGIONS[(i * 3) % 5],
        "status": STATUSES[(i // 2) % 3],
        "n": None if i % 7 == 0 else (i * 37) % 13,
        "amount": None if i % 9 == 0 else Decimal(f"{(i * 53) % 400}.{i % 100:02d}"),
        "score": None if i % 8 == 0 else round(((i * 17) % 29) / 3, 6),
        "born": None if i % 10 == 0 else dt.date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
        "active": i % 3 == 0,
    }


ROWS_DATA = [_row(i) for i in range(1, 121)]

AGGREGATES = (
    Aggregate("count"),
    Aggregate("count", BY["n"]),
    Aggregate("count_distinct", BY["n"]),
    Aggregate("count_distinct", BY["region"]),
    Aggregate("sum", BY["n"]),
    Aggregate("sum", BY["amount"]),
    Aggregate("avg", BY["score"]),
    Aggregate("avg", BY["n"]),
    Aggregate("min", BY["born"]),
    Aggregate("max", BY["amount"]),
    Aggregate("min", BY["score"]),
    Aggregate("count", BY["active"]),
)
GROUPINGS = [("region",), ("region", "status"), ("status",), ()]


def agg_plan(
    group: tuple[str, ...],
    *,
    prefixes: tuple[str, ...] | None = None,
    max_groups: int = 1000,
    object_name: str = "payments",
    aggregates: tuple[Aggregate, ...] = AGGREGATES,
) -> AggregatePlan:
    rows = QueryPlan(
        object_name=object_name,
        columns=COLUMNS[:1],
        known_columns=COLUMNS,
        row_filter=RowFilter("region", prefixes) if prefixes is not None else None,
    )
    return AggregatePlan(
        rows=rows,
        group_by=tuple(BY[g] for g in group),
        aggregates=aggregates,
        max_groups=max_groups,
    )


# ---------------------------------------------------------------- the reference


def reference(plan: AggregatePlan) -> list[tuple[Any, ...]]:
    """The grouping computed in Python over ``ROWS_DATA`` (SQL's semantics)."""
    rows = ROWS_DATA
    rf = plan.rows.row_filter
    if rf is not None:
        rows = [
            r
            for r in rows
            if r["region"] is not None and any(r["region"].startswith(p) for p in rf.prefixes)
        ]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r[c.name] for c in plan.group_by), []).append(r)
    if not plan.group_by and not groups:
        groups[()] = []
    out = []
    for key, members in groups.items():
        values: list[Any] = []
        for agg in plan.aggregates:
            if agg.column is None:
                values.append(len(members))
                continue
            vals = [m[agg.column.name] for m in members if m[agg.column.name] is not None]
            vals = [float(v) if isinstance(v, Decimal) else v for v in vals]
            if agg.fn == "count":
                values.append(len(vals))
            elif agg.fn == "count_distinct":
                values.append(len(set(vals)))
            elif not vals:
                values.append(None)
            elif agg.fn == "sum":
                values.append(sum(vals))
            elif agg.fn == "avg":
                values.append(sum(vals) / len(vals))
            else:
                values.append(min(vals) if agg.fn == "min" else max(vals))
        out.append((*key, len(members), *values))
    return sorted(out, key=_sort_key)


def _sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, str(v)) for v in row)


def _close(got: Any, want: Any, tol: float = 1e-9) -> bool:
    if isinstance(got, float) or isinstance(want, float):
        if got is None or want is None:
            return got is want
        return math.isclose(float(got), float(want), rel_tol=tol, abs_tol=tol)
    return bool(got == want)


def assert_same(
    table: pa.Table, want: list[tuple[Any, ...]], plan: AggregatePlan, tol: float = 1e-9
) -> None:
    assert table.schema == plan.result_schema()
    got = sorted((tuple(r.values()) for r in table.to_pylist()), key=_sort_key)
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want, strict=True):
        assert all(_close(a, b, tol) for a, b in zip(g, w, strict=True)), (g, w)


# ---------------------------------------------------------------- SQL sources


def _limits(url: str, tmp_path: Path) -> Any:
    """The test's limits, with a SQLite file's folder as an allowed file root."""
    if url.startswith("sqlite:///"):
        return limits_for(tmp_path, file_roots=(str(Path(url[10:]).parent),))
    return limits_for(tmp_path)


def _create(url: str) -> None:
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    table = sa.Table(
        "payments",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("region", sa.String(20)),
        sa.Column("status", sa.String(20)),
        sa.Column("n", sa.BigInteger),
        sa.Column("amount", sa.Numeric(12, 2)),
        sa.Column("score", sa.Double),
        sa.Column("born", sa.Date),
        sa.Column("active", sa.Boolean),
    )
    try:
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), ROWS_DATA)
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mysql"])
def sql_source(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    kind = request.param
    if kind == "postgresql":
        name, url = create_pg_database("sluice_agg")
    elif kind == "mysql":
        name, url = create_mysql_database("sluice_agg")
    else:
        name, url = "", f"sqlite:///{tmp_path_factory.mktemp('agg') / 'payments.db'}"
    try:
        _create(url)
        yield kind, url
    finally:
        if kind == "postgresql":
            drop_pg_database(name)
        elif kind == "mysql":
            drop_mysql_database(name)


def _direct(url: str, plan: AggregatePlan) -> list[tuple[Any, ...]]:
    """The same grouping as a hand-written ``GROUP BY`` on the same database."""
    sql_fn = {"count": "COUNT", "sum": "SUM", "avg": "AVG", "min": "MIN", "max": "MAX"}
    exprs = []
    for agg in plan.aggregates:
        if agg.column is None:
            exprs.append("COUNT(*)")
        elif agg.fn == "count_distinct":
            exprs.append(f"COUNT(DISTINCT {agg.column.name})")
        else:
            exprs.append(f"{sql_fn[agg.fn]}({agg.column.name})")
    keys = [c.name for c in plan.group_by]
    where = ""
    if plan.rows.row_filter is not None:
        likes = " OR ".join(f"region LIKE :p{i}" for i in range(len(plan.rows.row_filter.prefixes)))
        where = f" WHERE ({likes or '1=0'})"
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    select = ", ".join([*keys, "COUNT(*)", *exprs])
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            params = (
                {f"p{i}": f"{p}%" for i, p in enumerate(plan.rows.row_filter.prefixes)}
                if plan.rows.row_filter is not None
                else {}
            )
            sql = sa.text(f"SELECT {select} FROM payments{where}{group}")
            rows = conn.execute(sql, params).fetchall()
    finally:
        engine.dispose()
    out = []
    for row in rows:
        values = [float(v) if isinstance(v, Decimal) else v for v in row]
        values = [
            dt.date.fromisoformat(v) if isinstance(v, str) and len(v) == 10 and v[4] == "-" else v
            for v in values
        ]
        out.append(tuple(values))
    return sorted(out, key=_sort_key)


@pytest.mark.parametrize("group", GROUPINGS)
@pytest.mark.parametrize("prefixes", [None, ("11",), ("110101", "120"), ()])
def test_sql_group_by_equals_a_direct_group_by(
    sql_source: tuple[str, str],
    tmp_path: Path,
    group: tuple[str, ...],
    prefixes: tuple[str, ...] | None,
) -> None:
    kind, url = sql_source
    adapter = SqlAdapter(SourceConfig(kind=kind, settings={"url": url}), _limits(url, tmp_path))
    try:
        plan = agg_plan(group, prefixes=prefixes)
        table = adapter.aggregate(plan)
        # MySQL's own AVG of integers keeps 4 decimal places (div_precision_increment);
        # the gateway averages in double precision
        assert_same(table, _direct(url, plan), plan, tol=1e-4 if kind == "mysql" else 1e-9)
        assert_same(table, reference(plan), plan)  # and what Python computes
    finally:
        adapter.close()


def test_sql_refuses_too_many_groups(sql_source: tuple[str, str], tmp_path: Path) -> None:
    kind, url = sql_source
    adapter = SqlAdapter(SourceConfig(kind=kind, settings={"url": url}), _limits(url, tmp_path))
    try:
        assert adapter.aggregate(agg_plan(("region",), max_groups=5)).num_rows == 5
        with pytest.raises(TooLarge, match="more than 4 groups"):
            adapter.aggregate(agg_plan(("region",), max_groups=4))
    finally:
        adapter.close()


def test_sql_reads_the_row_filter_and_nothing_of_the_caller(tmp_path: Path) -> None:
    """The compiled statement binds the row filter's prefixes and the group cap only; a
    prefix is a value, never SQL text."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    _create(url)
    adapter = SqlAdapter(SourceConfig(kind="sqlite", settings={"url": url}), _limits(url, tmp_path))
    try:
        hostile = ("11' OR '1'='1", "%", "_")
        plan = agg_plan(("region",), prefixes=hostile)
        assert adapter.aggregate(plan).num_rows == 0
        assert_same(adapter.aggregate(plan), reference(plan), plan)
        # the same shape again is served from the shape cache with other values
        before = len(adapter._shapes)
        adapter.aggregate(agg_plan(("region",), prefixes=("110", "12", "9")))
        assert len(adapter._shapes) == before
    finally:
        adapter.close()


# ---------------------------------------------------------------- files


def _table() -> pa.Table:
    types = {
        "id": pa.int64(),
        "region": pa.string(),
        "status": pa.string(),
        "n": pa.int64(),
        "amount": pa.float64(),
        "score": pa.float64(),
        "born": pa.date32(),
        "active": pa.bool_(),
    }
    return pa.table(
        {
            name: pa.array(
                [float(r[name]) if isinstance(r[name], Decimal) else r[name] for r in ROWS_DATA],
                type,
            )
            for name, type in types.items()
        }
    )


@pytest.fixture(params=["csv", "parquet"])
def file_adapter(request: pytest.FixtureRequest, tmp_path: Path) -> FileAdapter:
    kind = request.param
    root = tmp_path / "files"
    root.mkdir()
    if kind == "csv":
        pacsv.write_csv(_table(), root / "payments.csv")
    else:
        pq.write_table(_table(), root / "payments.parquet", row_group_size=17)
    return FileAdapter(SourceConfig(kind=kind, settings={"root": str(root)}), limits_for(tmp_path))


@pytest.mark.parametrize("group", GROUPINGS)
@pytest.mark.parametrize("prefixes", [None, ("11",), ()])
def test_files_group_with_arrow_as_sql_would(
    file_adapter: FileAdapter, group: tuple[str, ...], prefixes: tuple[str, ...] | None
) -> None:
    name = f"payments.{file_adapter.kind}"
    plan = agg_plan(group, prefixes=prefixes, object_name=name)
    plan = AggregatePlan(
        rows=QueryPlan(
            object_name=name,
            columns=COLUMNS[:1],
            known_columns=COLUMNS,
            row_filter=plan.rows.row_filter,
            batch_size=7,
        ),
        group_by=plan.group_by,
        aggregates=plan.aggregates,
        max_groups=plan.max_groups,
    )
    assert_same(file_adapter.aggregate(plan), reference(plan), plan)


def test_files_refuse_too_many_groups(file_adapter: FileAdapter) -> None:
    plan = agg_plan(("id",), max_groups=50, object_name=f"payments.{file_adapter.kind}")
    with pytest.raises(TooLarge):
        file_adapter.aggregate(plan)


# ---------------------------------------------------------------- HTTP


@pytest.fixture
def http_adapter(tmp_path: Path) -> Iterator[HttpAdapter]:
    from tests.gateway.stewardship.test_sources_end_to_end import JsonApi, _handler

    api = JsonApi()
    api.records["payments"] = [
        {
            k: (
                float(v)
                if isinstance(v, Decimal)
                else v.isoformat()
                if isinstance(v, dt.date)
                else v
            )
            for k, v in r.items()
        }
        for r in ROWS_DATA
    ]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = {
        "base_url": f"http://127.0.0.1:{server.server_address[1]}",
        "auth": "none",
        "page_size": 25,
        "objects": [
            {
                "name": "payments",
                "path": "/payments",
                "records": "data.items",
                "paging": {"style": "page", "page_param": "page", "size_param": "per_page"},
            }
        ],
    }
    adapter = HttpAdapter(
        SourceConfig(kind="http", settings=settings),
        limits_for(tmp_path, http_allow_hosts=("127.0.0.1",)),
    )
    try:
        yield adapter
    finally:
        adapter.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("group", GROUPINGS)
def test_http_is_grouped_in_the_gateway(http_adapter: HttpAdapter, group: tuple[str, ...]) -> None:
    for prefixes in (None, ("11",)):
        plan = agg_plan(group, prefixes=prefixes)
        assert_same(http_adapter.aggregate(plan), reference(plan), plan)


def test_http_refuses_a_read_it_may_have_cut(tmp_path: Path, http_adapter: HttpAdapter) -> None:
    http_adapter._limits = limits_for(tmp_path, max_rows=100)
    with pytest.raises(TooLarge, match="100 or more rows"):
        http_adapter.aggregate(agg_plan(("region",)))
    # within the jurisdiction fewer rows are read: answered
    plan = agg_plan(("region",), prefixes=("1101",))
    assert_same(http_adapter.aggregate(plan), reference(plan), plan)


# ---------------------------------------------------------------- checks and Arrow


@pytest.mark.parametrize(
    ("fn", "column", "message"),
    [
        ("median", BY["n"], "unknown aggregate function"),
        ("sum", None, "needs a field"),
        ("sum", BY["region"], "does not apply"),
        ("avg", BY["born"], "does not apply"),
        ("min", BY["status"], "does not apply"),
        ("max", BY["active"], "does not apply"),
    ],
)
def test_functions_that_do_not_apply_are_refused(
    fn: str, column: Column | None, message: str
) -> None:
    with pytest.raises(BadRequest, match=message):
        check_function(fn, column)


def test_an_unknown_column_is_refused_before_any_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    _create(url)
    adapter = SqlAdapter(SourceConfig(kind="sqlite", settings={"url": url}), _limits(url, tmp_path))
    try:
        plan = agg_plan(("region",))
        forged = AggregatePlan(
            rows=plan.rows,
            group_by=(Column("secret", "string"),),
            aggregates=plan.aggregates,
            max_groups=10,
        )
        with pytest.raises(BadRequest, match="unknown field"):
            adapter.aggregate(forged)
        retyped = AggregatePlan(
            rows=plan.rows,
            group_by=(Column("region", "int64"),),
            aggregates=plan.aggregates,
            max_groups=10,
        )
        with pytest.raises(BadRequest, match="unknown field"):
            adapter.aggregate(retyped)
    finally:
        adapter.close()


def test_arrow_partials_combine_to_the_same_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of one row, partials compacted after every batch: the same answer."""
    import adapters.aggregate as module

    monkeypatch.setattr(module, "COMPACT_ROWS", 1)
    table = _table()
    for group in GROUPINGS:
        plan = agg_plan(group, object_name="t")
        grouper = ArrowGrouper(plan)
        for batch in table.to_batches(max_chunksize=1):
            grouper.add(batch)
        assert_same(grouper.result(), reference(plan), plan)


def test_nothing_to_group_is_one_empty_group_or_none() -> None:
    """No row: a grouping by fields has no group; a grouping by nothing has one group of
    0 rows (what SQL answers), counts 0 and the rest null."""
    assert ArrowGrouper(agg_plan(("region",))).result().num_rows == 0
    only = ArrowGrouper(agg_plan(())).result().to_pylist()
    assert len(only) == 1 and only[0][ROWS] == 0
    assert only[0]["a0"] == 0 and only[0]["a2"] == 0 and only[0]["a4"] is None
