"""Statements compiled once per plan shape: every query binds its own values.

A shape's compiled SQL is shared by every query of that shape, so a value cached with
it would be bound into another user's query (an earlier trial bound a stale row-filter
prefix: a leak of another county's rows). These tests run queries of one shape with
different values back to back on one adapter, on every backend, and check each gets
exactly its own rows; and that shapes which need different SQL never share one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import AdapterLimits, Filter, OrderBy, QueryPlan, RowFilter
from adapters.plan import check_plan
from adapters.registry import open_adapter
from adapters.sql import SqlAdapter
from adapters.sql_compile import bind_plan, build_select, compile_select
from tests.adapters.sql_sources import (
    PEOPLE,
    config_for,
    limits_for,
    people_database,
    plan,
)


@pytest.fixture(scope="module", params=["postgresql", "mysql", "sqlite"])
def adapter(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqlAdapter]:
    kind = request.param
    tmp_path = tmp_path_factory.mktemp(f"shapes_{kind}")
    with people_database(kind, tmp_path) as url:
        opened = open_adapter(config_for(kind, url), limits_for(tmp_path))
        assert isinstance(opened, SqlAdapter)
        try:
            yield opened
        finally:
            opened.close()


def ids(adapter: SqlAdapter, query: QueryPlan) -> list[int]:
    table = pa.Table.from_batches(list(adapter.execute(query)))
    return sorted(table.column("id").to_pylist())


def in_regions(*prefixes: str) -> list[int]:
    return sorted(row[0] for row in PEOPLE if str(row[2]).startswith(prefixes))


# (field, op, values) → every value's expected ids; one shape per row, several values
BY_ID = {row[0]: row for row in PEOPLE}
SAME_SHAPE: list[tuple[str, str, list[Any], list[list[int]]]] = [
    ("id", "=", [3, 5, 1], [[3], [5], [1]]),
    ("id", "!=", [3, 5], [[1, 2, 4, 5, 6, 7], [1, 2, 3, 4, 6, 7]]),
    ("id", "<", [3, 5], [[1, 2], [1, 2, 3, 4]]),
    ("id", "<=", [3, 1], [[1, 2, 3], [1]]),
    ("id", ">", [5, 2], [[6, 7], [3, 4, 5, 6, 7]]),
    ("id", ">=", [7, 6], [[7], [6, 7]]),
    ("id", "between", [[2, 4], [5, 6]], [[2, 3, 4], [5, 6]]),
    (
        "born",
        "between",
        [["1980-01-01", "1990-12-31"], ["1999-01-01", "2001-01-01"]],
        [[1, 2, 6], [3, 7]],
    ),
    ("created", ">=", ["2024-01-06T00:00:00", "2024-01-02T00:00:00"], [[6, 7], [2, 3, 4, 5, 6, 7]]),
    ("active", "=", [True, False], [[1, 3, 6, 7], [2, 5]]),
    ("name", "=", ["O'Brien", "ab"], [[2], [7]]),
    ("name", "prefix", ["a%", "a_", "a", "张"], [[3], [4], [3, 4, 7], [6]]),
    ("id", "in", [[1, 4], [2, 7], [6, 3]], [[1, 4], [2, 7], [3, 6]]),
]


def test_same_shape_different_values_bind_their_own(adapter: SqlAdapter) -> None:
    for _ in range(2):  # the second round runs entirely on cached shapes
        for field, op, values, expected in SAME_SHAPE:
            for value, want in zip(values, expected, strict=True):
                got = ids(adapter, plan("id", filters=(Filter(field, op, value),)))  # type: ignore[arg-type]
                assert got == want, (field, op, value)


def test_row_filter_prefixes_bind_their_own(adapter: SqlAdapter) -> None:
    """The policy's row filter: one shape, many users' jurisdictions, alternated."""
    cases = [("1101", [1, 2]), ("1201", [4, 5]), ("abc", [6]), ("ABC", [7]), ("9", [])]
    for _ in range(3):
        for prefix, want in cases:
            assert want == in_regions(prefix)
            got = ids(adapter, plan("id", row_filter=RowFilter("region", (prefix,))))
            assert got == want, prefix
            # the same with the request's own prefix filter in the same statement
            both = plan(
                "id",
                row_filter=RowFilter("region", (prefix,)),
                filters=(Filter("name", "prefix", "a"),),
            )
            assert ids(adapter, both) == [i for i in want if i in (3, 4, 7)], prefix


def test_shapes_that_need_other_sql_do_not_share(adapter: SqlAdapter) -> None:
    """``in`` lists of every length, ``is_null`` both ways, 0/1/2 row-filter prefixes,
    offsets: each runs its own SQL (run in an order that would expose sharing)."""
    for values in ([1], [1, 4], [1, 4, 6], [], [7, 6, 5, 4, 3, 2, 1], [2]):
        want = sorted(set(values))
        assert ids(adapter, plan("id", filters=(Filter("id", "in", values),))) == want, values
    assert ids(adapter, plan("id", filters=(Filter("amount", "is_null", True),))) == [4]
    not_null = plan("id", filters=(Filter("amount", "is_null", False),))
    assert ids(adapter, not_null) == [1, 2, 3, 5, 6, 7]
    assert ids(adapter, plan("id", filters=(Filter("amount", "is_null", True),))) == [4]
    for prefixes, want in (
        (("1101",), [1, 2]),
        (("1101", "abc"), [1, 2, 6]),
        ((), []),
        (("1201", "ABC", "1102"), [3, 4, 5, 7]),
    ):
        assert want == in_regions(*prefixes)
        assert ids(adapter, plan("id", row_filter=RowFilter("region", prefixes))) == want
    ordered = (OrderBy("id"),)
    for offset, want in ((0, [1, 2, 3]), (2, [3, 4, 5]), (0, [1, 2, 3]), (5, [6, 7])):
        query = plan("id", order_by=ordered, limit=3, offset=offset)
        got = pa.Table.from_batches(list(adapter.execute(query))).column("id").to_pylist()
        assert got == want, offset
    # two filters on one field and the same op, values swapped between them
    swap = [(3, 6), (6, 3)]
    for low, high in swap:
        query = plan("id", filters=(Filter("id", ">=", low), Filter("id", "<=", high)))
        assert ids(adapter, query) == list(range(low, high + 1))


def test_limits_bind_their_own(adapter: SqlAdapter) -> None:
    for limit in (1, 5, 2, 7, 3):
        assert len(ids(adapter, plan("id", limit=limit))) == limit


def test_compiled_sql_holds_no_value() -> None:
    """The text of a shape never contains a request value, and the cached object holds
    no value at all: only names. A mismatch between values and names never runs."""
    marker = "Zq'x%_/\\marker"
    limits = AdapterLimits()
    for dialect in _dialects():
        query = plan(
            "id",
            "name",
            filters=(
                Filter("name", "=", marker),
                Filter("name", "prefix", marker),
                Filter("name", "in", [marker, marker + "2"]),
                Filter("born", "between", ["1999-12-31", "2000-01-01"]),
            ),
            row_filter=RowFilter("region", (marker,)),
            limit=12345,
            offset=678,
        )
        checked = check_plan(query, limits)
        _shape, values = bind_plan(checked, dialect.name)
        compiled = compile_select(
            build_select(checked, schema=None, dialect=dialect), dialect, frozenset(values)
        )
        for text in ("marker", "12345", "678", "1999", "2000"):
            assert text not in compiled.sql, (dialect.name, text)
        assert "marker" not in repr(compiled.__dict__)
        with pytest.raises(RuntimeError):
            compiled.params({**values, "extra": 1})
        with pytest.raises(RuntimeError):
            compiled.params({k: v for k, v in values.items() if k != "r0"})


def test_shape_keys() -> None:
    """Same shape → same key whatever the values; anything that changes SQL → another."""
    limits = AdapterLimits()

    def key(query: QueryPlan, dialect: str = "postgresql") -> Any:
        return bind_plan(check_plan(query, limits), dialect)[0]

    rf = RowFilter("region", ("1101",))
    base = key(plan("id", row_filter=rf, filters=(Filter("name", "prefix", "a"),)))
    other_values = plan(
        "id", row_filter=RowFilter("region", ("9",)), filters=(Filter("name", "prefix", "zz"),)
    )
    assert key(other_values) == base
    assert key(plan("id", limit=3)) == key(plan("id", limit=4))
    different = [
        plan("id", filters=(Filter("id", "in", [1]),)),
        plan("id", filters=(Filter("id", "in", [1, 2]),)),
        plan("id", filters=(Filter("id", "in", []),)),
        plan("id", filters=(Filter("amount", "is_null", True),)),
        plan("id", filters=(Filter("amount", "is_null", False),)),
        plan("id", filters=(Filter("id", "=", 1),)),
        plan("id", filters=(Filter("id", "!=", 1),)),
        plan("id", filters=(Filter("amount", "=", 1),)),
        plan("id", row_filter=RowFilter("region", ())),
        plan("id", row_filter=RowFilter("region", ("1",))),
        plan("id", row_filter=RowFilter("region", ("1", "2"))),
        plan("id", row_filter=RowFilter("name", ("1",))),
        plan("id", offset=1),
        plan("id"),
        plan("name"),
        plan("id", "name"),
        plan("id", order_by=(OrderBy("id"),)),
        plan("id", order_by=(OrderBy("id", descending=True),)),
        plan("id", object_name="other"),
    ]
    keys = [key(q) for q in different]
    assert len(set(keys)) == len(keys)


def _dialects() -> list[Any]:
    from sqlalchemy.dialects.mysql.pymysql import MySQLDialect_pymysql
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    return [PGDialect_psycopg(), MySQLDialect_pymysql(), SQLiteDialect_pysqlite()]


PREFIX_ALPHABET = st.sampled_from(["a", "b", "%", "_", "/", "'", "\\", "x", "张", "A", "1"])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(prefixes=st.lists(st.text(PREFIX_ALPHABET, max_size=3), min_size=1, max_size=6))
def test_prefixes_in_sequence_match_python(adapter: SqlAdapter, prefixes: list[str]) -> None:
    """Any sequence of prefixes on one cached shape gives exactly ``str.startswith``."""
    for prefix in prefixes:
        want = sorted(row[0] for row in PEOPLE if str(row[1]).startswith(prefix))
        assert ids(adapter, plan("id", filters=(Filter("name", "prefix", prefix),))) == want
        want_rf = in_regions(prefix)
        assert ids(adapter, plan("id", row_filter=RowFilter("region", (prefix,)))) == want_rf


def test_dates_bind_per_query(adapter: SqlAdapter) -> None:
    for day, want in ((dt.date(1990, 5, 6), [2]), (dt.date(1970, 7, 7), [5])):
        assert ids(adapter, plan("id", filters=(Filter("born", "=", day.isoformat()),))) == want
