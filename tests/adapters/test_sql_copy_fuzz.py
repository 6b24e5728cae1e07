"""The COPY read path against the tuple path on values and sizes chosen to break the
CSV round trip or the batching: a byte-order mark at the start of a batch, line breaks
of every kind, ``\\.`` lines, values far longer than Arrow's block, NULL against the
empty string in every position, out-of-range dates, result sizes on batch boundaries,
and readers that stop early (the pooled connection must come back clean)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import adapters.sql as sql_module
import adapters.sql_stream as sql_stream
from adapters.base import Column, Filter, QueryPlan
from adapters.sql import SqlAdapter
from catalog.errors import SourceFailed
from tests.adapters.sql_sources import config_for, limits_for
from tests.conftest import create_pg_database, drop_pg_database

pytestmark = pytest.mark.postgres

BOM = "\ufeff"
TRICKY = [
    BOM, BOM + "one", BOM + "\n", "\r", "\n", "\r\n", "\n\r", "a\r\nb", "\\.", "\\.\n",
    "\n\\.\n", "\\.\r\n", '"', '""', '"\n"', ",", " , ", " ", "  lead", "trail  ", "NULL",
    "\\N", "\t", "\u00a0", "\u2028", "x" * 70_000, "", None,
]  # fmt: skip
PAIR = (Column("id", "int64"), Column("s", "string"))
STRING_FIRST = (Column("s", "string"), Column("id", "int64"), Column("t", "string"))


@pytest.fixture(scope="module")
def pg() -> Iterator[str]:
    name, url = create_pg_database()
    try:
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            conn.execute("CREATE TABLE strs (id int4 PRIMARY KEY, s text, t text)")
            conn.execute("CREATE TABLE nums (id int4 PRIMARY KEY, s text)")
            conn.execute("INSERT INTO nums SELECT g, g::text FROM generate_series(1, 40) g")
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture
def adapters(pg: str, tmp_path: Path) -> Iterator[tuple[SqlAdapter, SqlAdapter]]:
    config, limits = config_for("postgresql", pg), limits_for(tmp_path)
    fast, slow = SqlAdapter(config, limits), SqlAdapter(config, limits, copy_reads=False)
    try:
        yield fast, slow
    finally:
        fast.close()
        slow.close()


def _fill(url: str, values: list[str | None]) -> None:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        conn.execute("TRUNCATE strs")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO strs VALUES (%s, %s, %s)",
                [(i, v, values[-1 - i]) for i, v in enumerate(values)],
            )


def _read(adapter: SqlAdapter, plan: QueryPlan) -> tuple[list[int], list[dict[str, Any]]]:
    batches = list(adapter.execute(plan))
    return [b.num_rows for b in batches], pa.Table.from_batches(batches).to_pylist()


def _same(fast: SqlAdapter, slow: SqlAdapter, plan: QueryPlan) -> list[dict[str, Any]]:
    got, want = _read(fast, plan), _read(slow, plan)
    assert got == want
    return got[1]


def _plan(columns: tuple[Column, ...], batch_size: int, **kw: Any) -> QueryPlan:
    kw.setdefault("order_by", ())
    return QueryPlan(kw.pop("table", "strs"), columns, (*PAIR, Column("t", "string")),
                     batch_size=batch_size, **kw)  # fmt: skip


def test_a_bom_at_the_start_of_a_batch_is_kept(
    pg: str, adapters: tuple[SqlAdapter, SqlAdapter], copies: list[int]
) -> None:
    """Arrow's CSV reader drops a UTF-8 BOM at the start of its input: the first value
    of every batch lost it, and a value that was only a BOM came back NULL."""
    fast, slow = adapters
    _fill(pg, [BOM, BOM + "one", "x", BOM + "two", BOM])
    for batch_size in (1, 2, 3):
        for columns in (STRING_FIRST, STRING_FIRST[:1]):
            rows = _same(fast, slow, _plan(columns, batch_size))
            assert [r["s"] for r in rows] == [BOM, BOM + "one", "x", BOM + "two", BOM]
    assert copies


def test_tricky_values_in_every_position(
    pg: str, adapters: tuple[SqlAdapter, SqlAdapter], copies: list[int]
) -> None:
    fast, slow = adapters
    _fill(pg, TRICKY)
    for batch_size in (1, 2, 5):
        for columns in (STRING_FIRST, STRING_FIRST[:1], PAIR, (PAIR[1], PAIR[1])):
            rows = _same(fast, slow, _plan(columns, batch_size))
            assert [r["s"] for r in rows] == TRICKY
    assert copies


# what PostgreSQL text can hold: no NUL, no lone surrogate (psycopg cannot encode one to
# send it; the product's text guard refuses both before any source sees them)
TEXT_CHARS = st.characters(exclude_characters="\0", exclude_categories=["Cs"])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(
        st.none() | st.text(TEXT_CHARS, max_size=12)
        | st.sampled_from(TRICKY[:-3]),
        min_size=2, max_size=12,
    ),
    batch_size=st.integers(1, 4),
)  # fmt: skip
def test_random_text_matches_the_tuple_path(
    pg: str, adapters: tuple[SqlAdapter, SqlAdapter], values: list[str | None], batch_size: int
) -> None:
    fast, slow = adapters
    _fill(pg, values)
    rows = _same(fast, slow, _plan(STRING_FIRST, batch_size))
    assert [r["s"] for r in rows] == values


@pytest.mark.parametrize("rows", [3, 4, 5, 7, 8, 9, 12, 13])
def test_sizes_on_batch_boundaries(
    adapters: tuple[SqlAdapter, SqlAdapter],
    copies: list[int],
    monkeypatch: pytest.MonkeyPatch,
    rows: int,
) -> None:
    """A first chunk of 4, then batches of 4 or 8: results ending on, one short of and
    one past each boundary, with and without a limit on the boundary."""
    fast, slow = adapters
    monkeypatch.setattr(sql_module, "FIRST_CHUNK", 4)  # COPY's first chunk
    monkeypatch.setattr(sql_stream, "FIRST_CHUNK", 4)  # the cursor's
    for batch_size in (3, 4, 5, 8):
        for limit in (None, rows, rows - 1, batch_size, batch_size + 1):
            if limit is not None and limit <= batch_size:
                continue  # one batch: not the COPY path
            filters = (Filter("id", "<=", rows),)
            plan = _plan(PAIR, batch_size, table="nums", limit=limit, filters=filters)
            sizes, got = _read(fast, plan)
            assert (sizes, got) == _read(slow, plan)
            assert len(got) == min(rows, limit or rows)
            assert sizes[0] == min(4, batch_size, len(got))
    assert copies


def _busy_sessions(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        return conn.execute(
            "SELECT state, query FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND state <> 'idle'"
        ).fetchall()


def test_stopping_at_any_batch_leaves_clean_connections(
    pg: str, adapters: tuple[SqlAdapter, SqlAdapter], copies: list[int]
) -> None:
    """A reader that stops after any batch (mid-stream, on the last full batch, after
    the end): the next queries on the same pool see no stray cancel, no open
    transaction and the session's own statement timeout."""
    fast, _slow = adapters
    for batch_size in (3, 4, 10, 13):
        for stop in range(1, 6):
            batches = fast.execute(_plan(PAIR, batch_size, table="nums", limit=13))
            for _ in range(stop):
                if next(batches, None) is None:
                    break
            batches.close()  # type: ignore[attr-defined]
            plan = _plan(PAIR, 3, table="nums", limit=9)
            assert sum(b.num_rows for b in fast.execute(plan)) == 9
            assert _busy_sessions(pg) == []
    raw = fast._engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() != ("0",)
    finally:
        raw.close()
    assert copies


@pytest.mark.parametrize(
    "sql, column",
    [
        ("SELECT g AS id, CASE WHEN g = 7 THEN 'infinity'::date END AS v", "date"),
        ("SELECT g AS id, CASE WHEN g = 7 THEN '0044-03-15 BC'::date END AS v", "date"),
        ("SELECT g AS id, CASE WHEN g = 7 THEN '10000-01-01'::date END AS v", "date"),
        ("SELECT g AS id, CASE WHEN g = 7 THEN '-infinity'::timestamp END AS v", "timestamp"),
        ("SELECT g AS id, CASE WHEN g = 7 THEN '0001-01-01 BC'::timestamp END AS v", "timestamp"),
    ],
)
def test_dates_outside_python_fail_on_both_paths(
    pg: str, adapters: tuple[SqlAdapter, SqlAdapter], copies: list[int], sql: str, column: str
) -> None:
    with psycopg.connect(pg.replace("+psycopg", "")) as conn:
        conn.execute("DROP VIEW IF EXISTS edge")
        conn.execute(f"CREATE VIEW edge AS {sql} FROM generate_series(1, 9) g")
    fast, slow = adapters
    columns = (Column("id", "int64"), Column("v", column))
    plan = QueryPlan("edge", columns, columns, batch_size=2)
    for adapter in (fast, slow):
        with pytest.raises(SourceFailed):
            list(adapter.execute(plan))
    # the edges Python can hold pass on both
    with psycopg.connect(pg.replace("+psycopg", "")) as conn:
        edge = "'0001-01-01'" if column == "date" else "'9999-12-31 23:59:59.999999'"
        conn.execute(
            f"CREATE OR REPLACE VIEW edge AS SELECT g AS id, {edge}::{column} AS v"
            " FROM generate_series(1, 9) g"
        )
    assert len(_same(fast, slow, plan)) == 9
    assert copies
