"""PostgreSQL's COPY read path gives exactly the tuple path's Arrow tables.

Every column type of the test and demo sources, with NULLs, empty strings, quotes,
commas, newlines, backslashes and CJK text; hostile filter values (bound client-side by
psycopg for COPY) select the same rows as the parameterised path and inject nothing;
early exits leave the pooled connection clean; limits hold."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from adapters.base import Column, Filter, QueryPlan, RowFilter
from adapters.sql import SqlAdapter
from adapters.sql_copy import _Watchdog
from catalog.demo.entries import dataset_entries
from catalog.errors import SourceFailed, SourceTimeout
from tests.adapters.sql_sources import config_for, limits_for
from tests.conftest import create_pg_database, drop_pg_database
from tests.demo_fixtures import load_demo

pytestmark = pytest.mark.postgres

STRINGS = [
    None, "", " ", "  lead", "trail  ", '"', '""', "a,b", "line\nbreak", "cr\rlf\r\n",
    "back\\slash", "\\", "\\.", "\\N", "NULL", "null", "'", "O'Brien", "张三", "欧阳娜娜,\"引号\"",
    "emoji 😀", "tab\there", "t", "f", "%_/", "x'; DROP TABLE kinds; --",
]  # fmt: skip
FLOATS = [None, 0.1, -0.0, 1e300, 5e-324, math.nan, math.inf, -math.inf, 1 / 3, 2.5]
INTS = [None, 0, -1, 9223372036854775807, -9223372036854775808, 42]
DATES = [None, dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2000, 2, 29), dt.date(1970, 1, 1)]
TIMESTAMPS = [
    None, dt.datetime(1, 1, 1), dt.datetime(2024, 1, 1, 8, 30, 0, 123456),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999), dt.datetime(2000, 2, 29, 12),
]  # fmt: skip
BOOLS = [None, True, False]
NUMERICS = [None, "123456.789012", "-0.000001", "99999999999999.999999", "0"]
ROWS = len(STRINGS)

KINDS_DDL = """CREATE TABLE kinds (
    id int4 PRIMARY KEY, t text, v varchar(60), c char(6), i2 int2, i4 int4, i8 int8,
    f4 float4, f8 float8, n numeric(20, 6), b bool, d date, ts timestamp, tz timestamptz
)"""
COPYABLE = (
    Column("id", "int64"), Column("t", "string"), Column("v", "string"),
    Column("c", "string"), Column("i2", "int64"), Column("i4", "int64"),
    Column("i8", "int64"), Column("f4", "float64"), Column("f8", "float64"),
    Column("n", "decimal"), Column("b", "bool"), Column("d", "date"),
    Column("ts", "timestamp"),
)  # fmt: skip
# types whose COPY text is not what psycopg loads: read as tuples, never through COPY
NOT_COPYABLE = (Column("tz", "timestamp"), Column("n", "float64"))
KNOWN = (*COPYABLE, Column("tz", "timestamp"))


def _row(i: int) -> tuple[Any, ...]:
    def pick(values: list[Any]) -> Any:
        return values[i % len(values)]

    small = pick(INTS)
    return (
        i, STRINGS[i], pick(STRINGS[::-1]), pick(["", None, "ab", "张三", " x"]),
        None if small is None else max(-32768, min(32767, small)),
        None if small is None else max(-(2**31), min(2**31 - 1, small)),
        small, pick([None, 1.1, 3.4e38, -0.5]), pick(FLOATS), pick(NUMERICS), pick(BOOLS),
        pick(DATES), pick(TIMESTAMPS),
        pick([None, dt.datetime(2024, 1, 1, 8, 30, tzinfo=dt.UTC)]),
    )  # fmt: skip


@pytest.fixture(scope="module")
def pg() -> Iterator[tuple[str, str]]:
    name, url = create_pg_database()
    try:
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            conn.execute(KINDS_DDL)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO kinds VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                    " %s, %s)",
                    [_row(i) for i in range(ROWS)],
                )
        yield name, url
    finally:
        drop_pg_database(name)


def _adapters(url: str, tmp_path: Path, **limits: Any) -> tuple[SqlAdapter, SqlAdapter]:
    config, lim = config_for("postgresql", url), limits_for(tmp_path, **limits)
    return SqlAdapter(config, lim), SqlAdapter(config, lim, copy_reads=False)


def _read(adapter: SqlAdapter, query: QueryPlan) -> tuple[list[int], pa.Table]:
    batches = list(adapter.execute(query))
    return [b.num_rows for b in batches], pa.Table.from_batches(batches)


def _comparable(table: pa.Table) -> dict[str, list[Any]]:
    def cell(value: Any) -> Any:
        if isinstance(value, float):
            return ("float", repr(value))  # NaN equals NaN, -0.0 differs from 0.0
        return value

    return {
        name: [cell(v) for v in table.column(i).to_pylist()]
        for i, name in enumerate(table.schema.names)
    }


def assert_same(fast: SqlAdapter, slow: SqlAdapter, query: QueryPlan) -> pa.Table:
    sizes_fast, got = _read(fast, query)
    sizes_slow, want = _read(slow, query)
    assert got.schema == want.schema
    assert _comparable(got) == _comparable(want)
    assert sizes_fast == sizes_slow
    return got


def kinds_plan(*columns: Column, known: tuple[Column, ...] = KNOWN, **kw: Any) -> QueryPlan:
    kw.setdefault("batch_size", 5)  # several batches: the COPY path, not the one-batch read
    return QueryPlan("kinds", columns, known, **kw)


def test_every_type_matches_the_tuple_path(
    pg: tuple[str, str], tmp_path: Path, copies: list[int]
) -> None:
    fast, slow = _adapters(pg[1], tmp_path)
    try:
        table = assert_same(fast, slow, kinds_plan(*COPYABLE))
        assert copies == [1]
        assert table.num_rows == ROWS
        # NULL and the empty string kept apart, every awkward string as written
        assert table.column("t").to_pylist() == STRINGS
        for column in COPYABLE:  # alone: a one-column row holding NULL is an empty line
            assert_same(fast, slow, kinds_plan(column))
        assert len(copies) == 1 + len(COPYABLE)
        # a field projected twice
        twice = assert_same(fast, slow, kinds_plan(COPYABLE[1], COPYABLE[1], COPYABLE[0]))
        assert twice.column(0).to_pylist() == twice.column(1).to_pylist() == STRINGS
    finally:
        fast.close()
        slow.close()


def test_other_types_read_tuples(pg: tuple[str, str], tmp_path: Path, copies: list[int]) -> None:
    known = (*KNOWN[:9], Column("n", "float64"), *KNOWN[10:])
    fast, slow = _adapters(pg[1], tmp_path)
    try:
        for column in NOT_COPYABLE:
            assert_same(fast, slow, kinds_plan(COPYABLE[0], column, known=known))
        assert copies == []
    finally:
        fast.close()
        slow.close()


def test_demo_sources_match_the_tuple_path(tmp_path: Path, copies: list[int]) -> None:
    name, url = create_pg_database()
    try:
        load_demo(url)
        fast, slow = _adapters(url, tmp_path)
        try:
            for entry in dataset_entries():
                columns = tuple(Column(f.name, f.type) for f in entry.fields)
                query = QueryPlan(entry.object_name, columns, columns, batch_size=97)
                assert assert_same(fast, slow, query).num_rows > 97
            assert len(copies) == len(dataset_entries())
        finally:
            fast.close()
            slow.close()
    finally:
        drop_pg_database(name)


HOSTILE = [
    "x'; DROP TABLE kinds; --", "\\'; DROP TABLE kinds; --", "back\\slash", "\\", "'", "''",
    '"', "a,b", "%", "_", "%_/", "/", "$$; SELECT 1; $$", "$1", "%s", "%(lim)s", "张三",
    "line\nbreak", "１' ＯＲ '1'='1", "\\.", "E'\\x41'",
]  # fmt: skip


def _hostile_plans(value: str) -> list[tuple[QueryPlan, list[int] | None]]:
    """Plans filtering on ``value``, with the ids Python expects (None: just compare)."""
    ids = [i for i in range(ROWS)]
    t = [STRINGS[i] for i in ids]
    eq = [i for i in ids if t[i] == value]
    starts = [i for i in ids if t[i] is not None and t[i].startswith(value)]
    cols = (COPYABLE[0], COPYABLE[1])
    return [
        (kinds_plan(*cols, filters=(Filter("t", "=", value),)), eq),
        (kinds_plan(*cols, filters=(Filter("t", "prefix", value),)), starts),
        (kinds_plan(*cols, row_filter=RowFilter("t", (value,))), starts),
        (kinds_plan(*cols, row_filter=RowFilter("t", (value, "O'"))), None),
        (kinds_plan(*cols, filters=(Filter("t", "in", [value, "NULL"]),)), None),
        (kinds_plan(*cols, filters=(Filter("t", "!=", value),)), None),
        (kinds_plan(*cols, filters=(Filter("t", "<", value),)), None),
        (kinds_plan(*cols, filters=(Filter("t", "between", [value, value + "~"]),)), None),
        (kinds_plan(*cols, filters=(Filter("v", ">=", value), Filter("t", "!=", value))), None),
    ]


def _check_hostile(fast: SqlAdapter, slow: SqlAdapter, url: str) -> None:
    for value in HOSTILE:
        for query, expected in _hostile_plans(value):
            got = assert_same(fast, slow, query)
            if expected is not None:
                assert sorted(got.column("id").to_pylist()) == expected, (value, query)
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        count = conn.execute("SELECT count(*) FROM kinds").fetchone()
    assert count == (ROWS,)


def test_hostile_filter_values_select_the_same_rows(
    pg: tuple[str, str], tmp_path: Path, copies: list[int]
) -> None:
    fast, slow = _adapters(pg[1], tmp_path)
    try:
        _check_hostile(fast, slow, pg[1])
        assert copies  # the COPY path ran (its results are compared above)
    finally:
        fast.close()
        slow.close()


def test_hostile_values_with_nonstandard_strings(tmp_path: Path, copies: list[int]) -> None:
    """With ``standard_conforming_strings = off`` a backslash escapes in a plain literal;
    psycopg's client-side quoting follows the session, so nothing changes."""
    name, url = create_pg_database()
    try:
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" SET standard_conforming_strings = off')
            conn.execute(f'ALTER DATABASE "{name}" SET escape_string_warning = off')
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            assert conn.execute("SHOW standard_conforming_strings").fetchone() == ("off",)
            conn.execute(KINDS_DDL)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO kinds (id, t, v) VALUES (%s, %s, %s)",
                    [(i, STRINGS[i], _row(i)[2]) for i in range(ROWS)],
                )
        fast, slow = _adapters(url, tmp_path)
        try:
            _check_hostile(fast, slow, url)
            assert copies
        finally:
            fast.close()
            slow.close()
    finally:
        drop_pg_database(name)


def test_limits_and_early_exit(pg: tuple[str, str], tmp_path: Path, copies: list[int]) -> None:
    fast, slow = _adapters(pg[1], tmp_path, max_rows=7)
    try:
        sizes, table = _read(fast, kinds_plan(*COPYABLE[:2], batch_size=3))
        assert sizes == [3, 3, 1] and table.num_rows == 7
        sizes, table = _read(fast, kinds_plan(*COPYABLE[:2], batch_size=3, limit=5, offset=4))
        assert sizes == [3, 2] and table.column("id").to_pylist() == [4, 5, 6, 7, 8]
        assert len(copies) == 2
    finally:
        fast.close()
        slow.close()
    fast, slow = _adapters(pg[1], tmp_path)
    try:
        for _ in range(8):  # more than the pool holds: every connection goes back clean
            batches = fast.execute(kinds_plan(*COPYABLE, batch_size=2))
            assert next(batches).num_rows == 2
            batches.close()  # type: ignore[attr-defined]
        assert_same(fast, slow, kinds_plan(*COPYABLE, batch_size=4))
    finally:
        fast.close()
        slow.close()


def test_autocommit_and_copy_reads_stay_read_only_and_time_bounded(tmp_path: Path) -> None:
    """The one-batch read runs in autocommit and the large read as COPY: both still in
    the session's read-only mode and under its statement timeout."""
    name, url = create_pg_database()
    try:
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            conn.execute("CREATE SEQUENCE s")
            conn.execute("CREATE VIEW writes AS SELECT nextval('s') AS id")
            conn.execute(
                "CREATE VIEW slow AS SELECT g AS id FROM generate_series(1, 3) g "
                "CROSS JOIN LATERAL (SELECT pg_sleep(0.5)) s"
            )
        fast, _slow = _adapters(url, tmp_path, statement_timeout_s=0.3)
        _slow.close()
        try:
            column = (Column("id", "int64"),)
            for batch_size in (10, 1):  # one batch (autocommit), several (COPY)
                writes = QueryPlan("writes", column, column, limit=2, batch_size=batch_size)
                with pytest.raises(SourceFailed, match="read-only"):
                    list(fast.execute(writes))
                slow = QueryPlan("slow", column, column, limit=3, batch_size=batch_size)
                with pytest.raises(SourceTimeout, match="statement timeout"):
                    list(fast.execute(slow))
        finally:
            fast.close()
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            assert conn.execute("SELECT last_value, is_called FROM s").fetchone() == (1, False)
    finally:
        drop_pg_database(name)


def test_a_slow_client_does_not_time_out_a_large_read(
    pg: tuple[str, str], tmp_path: Path, copies: list[int]
) -> None:
    """The statement timeout bounds the source's time per batch (as a cursor's per-fetch
    timeout did), not the time a slow client takes to drain a large result: 20 MB is
    more than the sockets buffer, so the server waits on this reader for over a second."""
    _name, url = pg
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        conn.execute(
            "CREATE OR REPLACE VIEW wide AS "
            "SELECT g AS id, repeat('x', 1000) AS pad FROM generate_series(1, 20000) g"
        )
    fast, slow = _adapters(url, tmp_path, statement_timeout_s=0.3)
    slow.close()
    try:
        columns = (Column("id", "int64"), Column("pad", "string"))
        plan = QueryPlan("wide", columns, columns, limit=20_000, batch_size=2_000)
        rows = 0
        for batch in fast.execute(plan):
            rows += batch.num_rows
            time.sleep(0.1)  # 10+ batches: the COPY outlives the 0.3 s timeout
        assert copies, "the COPY path was not taken"
        assert rows == 20_000
    finally:
        fast.close()


class _SlowCancel:
    """A connection whose cancel takes a while to reach the server."""

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0

    def cancel_safe(self) -> None:
        self.started += 1
        time.sleep(0.3)
        self.finished += 1


def test_the_watchdog_never_leaves_a_cancel_in_flight() -> None:
    """A cancel still on its way when the connection went back to the pool would cancel
    somebody else's next query: disarming waits for it."""
    raw = _SlowCancel()
    dog = _Watchdog(raw, 0.01)
    dog.arm()
    time.sleep(0.1)  # fired: the cancel is being sent
    assert raw.started == 1
    dog.disarm()
    assert raw.finished == 1
    quiet = _SlowCancel()
    dog = _Watchdog(quiet, 0.2)
    dog.arm()
    dog.disarm()  # before it fires
    time.sleep(0.3)
    assert quiet.started == 0
