"""The SQL adapter on real PostgreSQL, MariaDB and SQLite: push-down, limits, injection
attempts, bad credentials, a source that is down, statement timeouts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from adapters.base import (
    Column,
    Filter,
    OrderBy,
    QueryPlan,
    RowFilter,
    SourceAdapter,
    SourceConfig,
)
from adapters.registry import open_adapter, redact, validate_config
from adapters.sql_config import create_engine
from catalog.errors import BadRequest, Forbidden, SourceFailed, SourceTimeout
from tests.adapters.sql_sources import (
    PEOPLE_COLUMNS,
    config_for,
    execute_sql,
    free_port,
    limits_for,
    people_count,
    people_database,
    plan,
)


@dataclass
class Source:
    kind: str
    url: str
    tmp_path: Path
    adapter: SourceAdapter


@pytest.fixture(scope="module", params=["postgresql", "mysql", "sqlite"])
def source(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Source]:
    """One database per backend for the module (queries are read-only, and the tests
    that try to break them check the table is intact)."""
    kind = request.param
    tmp_path = tmp_path_factory.mktemp(f"sql_{kind}")
    with people_database(kind, tmp_path) as url:
        adapter = open_adapter(config_for(kind, url), limits_for(tmp_path))
        try:
            yield Source(kind, url, tmp_path, adapter)
        finally:
            adapter.close()


def run(src: Source, query: QueryPlan, **limits: Any) -> pa.Table:
    """Run ``query`` on the source's shared adapter, or on a fresh one for other limits."""
    if not limits:
        return pa.Table.from_batches(list(src.adapter.execute(query)))
    adapter = open_adapter(config_for(src.kind, src.url), limits_for(src.tmp_path, **limits))
    try:
        return pa.Table.from_batches(list(adapter.execute(query)))
    finally:
        adapter.close()


def ids(table: pa.Table) -> list[int]:
    return sorted(table.column("id").to_pylist())


def test_introspection_maps_types(source: Source) -> None:
    adapter = source.adapter
    adapter.test_connection()
    objects = {o.name: o for o in adapter.list_objects()}
    sample = adapter.sample("people", rows=3)
    types = {c.name: c.type for c in objects["people"].columns}
    assert types["id"] == "int64"
    assert types["name"] == "string"
    assert types["amount"] == "decimal"
    assert types["born"] == "date"
    assert types["created"] == "timestamp"
    assert types["active"] in {"bool", "int64"}  # MariaDB BOOLEAN is TINYINT(1)
    assert sample.num_rows == 3


def test_projection_and_types(source: Source) -> None:
    table = run(
        source, plan("id", "amount", "born", "active", "created", order_by=(OrderBy("id"),))
    )
    assert table.schema.names == ["id", "amount", "born", "active", "created"]
    assert table.schema.field("amount").type == pa.float64()
    assert table.schema.field("born").type == pa.date32()
    assert table.schema.field("created").type == pa.timestamp("us")
    first = table.slice(0, 1).to_pylist()[0]
    assert first == {
        "id": 1,
        "amount": 10.5,
        "born": dt.date(1980, 1, 2),
        "active": True,
        "created": dt.datetime(2024, 1, 1, 8, 30),
    }


FILTER_CASES = [
    (Filter("id", "=", 3), [3]),
    (Filter("id", "!=", 3), [1, 2, 4, 5, 6, 7]),
    (Filter("id", "<", 3), [1, 2]),
    (Filter("id", "<=", 3), [1, 2, 3]),
    (Filter("id", ">", 5), [6, 7]),
    (Filter("id", ">=", "5"), [5, 6, 7]),
    (Filter("id", "in", [1, 4, 99]), [1, 4]),
    (Filter("id", "in", []), []),
    (Filter("id", "between", [2, 4]), [2, 3, 4]),
    (Filter("born", "between", ["1980-01-01", "1990-12-31"]), [1, 2, 6]),
    (Filter("amount", ">", 20), [3, 6]),
    (Filter("active", "=", True), [1, 3, 6, 7]),
    (Filter("created", ">=", "2024-01-06T00:00:00"), [6, 7]),
    (Filter("name", "prefix", "a%"), [3]),
    (Filter("name", "prefix", "a_"), [4]),
    (Filter("name", "prefix", "a"), [3, 4, 7]),
    (Filter("name", "prefix", "张"), [6]),
    (Filter("name", "=", "O'Brien"), [2]),
    (Filter("amount", "is_null", True), [4]),
    (Filter("amount", "is_null", False), [1, 2, 3, 5, 6, 7]),
]


def test_every_filter_op(source: Source) -> None:
    got = {repr(flt): ids(run(source, plan("id", filters=(flt,)))) for flt, _ in FILTER_CASES}
    assert got == {repr(flt): expected for flt, expected in FILTER_CASES}


def test_row_filter(source: Source) -> None:
    rf = RowFilter("region", ("1101", "abc"))
    assert ids(run(source, plan("id", row_filter=rf))) == [1, 2, 6]
    # Prefixes are case-sensitive on every source, MariaDB included.
    assert ids(run(source, plan("id", row_filter=RowFilter("region", ("ABC",))))) == [7]
    # No prefix at all is no row, never "no filter".
    assert run(source, plan("id", row_filter=RowFilter("region", ()))).num_rows == 0
    # The row filter combines with the request's filters.
    both = plan("id", row_filter=rf, filters=(Filter("id", ">", 2),))
    assert ids(run(source, both)) == [6]


def test_order_limit_offset_and_max_rows(source: Source) -> None:
    desc = plan("id", order_by=(OrderBy("id", descending=True),), limit=3, offset=1)
    assert run(source, desc).column("id").to_pylist() == [6, 5, 4]
    by_region = plan("id", "region", order_by=(OrderBy("region"), OrderBy("id")), limit=2)
    assert run(source, by_region).column("id").to_pylist() == [1, 2]
    # limits.max_rows wins over the plan, and over no limit at all.
    assert run(source, plan("id", limit=50), max_rows=2).num_rows == 2
    assert run(source, plan("id"), max_rows=4).num_rows == 4
    # Small batches stream as several batches.
    batches = list(source.adapter.execute(plan("id", batch_size=2)))
    assert [b.num_rows for b in batches] == [2, 2, 2, 1]
    # An empty result still carries the schema, as one empty batch.
    empty = list(source.adapter.execute(plan("id", "born", filters=(Filter("id", "=", 0),))))
    assert [b.num_rows for b in empty] == [0]
    assert empty[0].schema.names == ["id", "born"]


INJECTION_VALUES = [
    "x'; DROP TABLE people; --",
    "' OR '1'='1",
    '" OR ""="',
    "1; DELETE FROM people",
    "\\'; DROP TABLE people; #",
    "１' ＯＲ '1'='1",  # fullwidth unicode
    "name\u2019; DROP TABLE people",
]


def test_injection_in_values_is_literal_data(source: Source) -> None:
    for value in INJECTION_VALUES:
        for op in ("=", "prefix", "!=", "<"):
            run(source, plan("id", filters=(Filter("name", op, value),)))
        run(source, plan("id", filters=(Filter("name", "in", [value, "a"]),)))
        run(source, plan("id", row_filter=RowFilter("region", (value,))))
        matched = run(source, plan("id", filters=(Filter("name", "=", value),)))
        assert ids(matched) == ([5] if value == "x'; DROP TABLE people; --" else []), value
        prefixed = run(source, plan("id", filters=(Filter("name", "prefix", value),)))
        assert ids(prefixed) == ([5] if value == "x'; DROP TABLE people; --" else []), value
    assert people_count(source.url) == 7


BAD_FIELDS = ["name; DROP TABLE people", 'id" ; DROP TABLE people; --', "`id`", "ｎａｍｅ", "Name"]


def test_field_names_outside_the_catalog_are_refused(source: Source) -> None:
    for field in BAD_FIELDS:
        for bad in (
            plan("id", filters=(Filter(field, "=", "1"),)),
            plan("id", order_by=(OrderBy(field),)),
            plan("id", row_filter=RowFilter(field, ("1",))),
            QueryPlan("people", (Column(field, "string"),), PEOPLE_COLUMNS),
        ):
            with pytest.raises(BadRequest, match="unknown field"):
                run(source, bad)
    assert people_count(source.url) == 7


def test_hostile_identifier_in_catalog_is_quoted_not_executed(source: Source) -> None:
    """If a hostile name ever reached the catalog, it is still only an identifier."""
    evil = Column('id" FROM people; DROP TABLE people; --', "int64")
    with pytest.raises(SourceFailed):
        run(source, QueryPlan("people", (evil,), (*PEOPLE_COLUMNS, evil)))
    with pytest.raises(SourceFailed):
        run(source, plan("id", object_name="people; DROP TABLE people"))
    assert people_count(source.url) == 7


def test_bad_values_and_operators_are_refused(source: Source) -> None:
    for flt in (
        Filter("id", "=", "seven"),
        Filter("id", "in", "1,2"),
        Filter("id", "between", [1]),
        Filter("id", "prefix", "1"),
        Filter("id", "like", "%"),  # type: ignore[arg-type]
        Filter("id", "=", None),
        Filter("born", "=", "yesterday"),
    ):
        with pytest.raises(BadRequest):
            run(source, plan("id", filters=(flt,)))
    with pytest.raises(BadRequest):
        run(source, plan("id", limit=-1))


def test_wrong_password_mariadb_message_has_no_secret(mysql_url: str, tmp_path: Path) -> None:
    shown = mysql_url  # root@127.0.0.1 — no password in settings
    secret = "S3cret-Pa55word"
    adapter = open_adapter(
        SourceConfig("mysql", {"url": shown}, secret=secret), limits_for(tmp_path)
    )
    try:
        with pytest.raises(SourceFailed, match="authentication failed") as info:
            adapter.test_connection()
    finally:
        adapter.close()
    assert secret not in info.value.message
    assert secret not in str(info.value.to_dict())


def test_a_secret_holding_a_url_is_refused(pg_url: str, tmp_path: Path) -> None:
    """The secret is the password only: a URL in it would be a target nobody sees."""
    secret = "Topsecret-9"
    full = pg_url.replace("postgres@", f"nobody_here:{secret}@")
    for config in (
        SourceConfig("postgresql", {}, secret=full),
        SourceConfig("postgresql", {"url": pg_url}, secret=full),
    ):
        with pytest.raises(BadRequest, match="only the password") as info:
            open_adapter(config, limits_for(tmp_path))
        assert secret not in info.value.message


def test_unknown_pg_role_names_the_class_only(pg_url: str, tmp_path: Path) -> None:
    url = pg_url.replace("postgres@", "nobody_here@")
    adapter = open_adapter(config_for("postgresql", url), limits_for(tmp_path))
    try:
        with pytest.raises(SourceFailed) as info:
            adapter.list_objects()
    finally:
        adapter.close()
    assert info.value.message == "could not connect: authentication failed (credentials refused)"


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_source_down(kind: str, tmp_path: Path) -> None:
    port = free_port()
    url = (
        f"postgresql://u@127.0.0.1:{port}/db"
        if kind == "postgresql"
        else f"mysql://u@127.0.0.1:{port}/db"
    )
    adapter = open_adapter(SourceConfig(kind, {"url": url}, secret="pw-xyz"), limits_for(tmp_path))
    try:
        with pytest.raises(SourceFailed, match="could not connect: connection refused") as info:
            list(adapter.execute(plan("id")))
    finally:
        adapter.close()
    assert "pw-xyz" not in info.value.message and str(port) not in info.value.message


SLOW_VIEWS = {
    "postgresql": "CREATE VIEW slow AS SELECT g AS id FROM generate_series(1, 3) g "
    "CROSS JOIN LATERAL (SELECT pg_sleep(1)) s",
    "mysql": "CREATE VIEW slow AS SELECT id FROM people WHERE SLEEP(1) = 0",
    "sqlite": "CREATE VIEW slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
    "SELECT x + 1 FROM c WHERE x < 100000000) SELECT x AS id FROM c WHERE x = 99999999",
}


def test_statement_timeout(source: Source) -> None:
    execute_sql(source.url, SLOW_VIEWS[source.kind])
    slow = plan("id", object_name="slow")
    with pytest.raises(SourceTimeout, match="statement timeout"):
        run(source, slow, statement_timeout_s=0.3)
    # The pooled connection is still usable afterwards.
    assert run(source, plan("id"), statement_timeout_s=0.3).num_rows == 7


def test_validate_config(tmp_path: Path) -> None:
    limits = limits_for(tmp_path)
    with pytest.raises(BadRequest, match="password"):
        validate_config(SourceConfig("postgresql", {"url": "postgresql://u:pw@h/db"}), limits)
    with pytest.raises(BadRequest, match="not allowed"):
        validate_config(
            SourceConfig("postgresql", {"url": "postgresql://u@h/db?options=-c%20x%3D1"}), limits
        )
    with pytest.raises(BadRequest, match="needs a postgresql URL"):
        validate_config(SourceConfig("postgresql", {"url": "mysql://u@h/db"}), limits)
    with pytest.raises(BadRequest, match="unknown source kind"):
        validate_config(SourceConfig("oracle", {"url": "oracle://u@h/db"}), limits)
    outside = tmp_path.parent / "elsewhere.db"
    with pytest.raises(Forbidden):
        validate_config(SourceConfig("sqlite", {"url": f"sqlite:///{outside}"}), limits)
    with pytest.raises(BadRequest, match=r"'\.\.'"):
        validate_config(SourceConfig("sqlite", {"url": f"sqlite:///{tmp_path}/../x.db"}), limits)
    with pytest.raises(Forbidden, match="no allowed file root"):
        validate_config(
            SourceConfig("sqlite", {"url": f"sqlite:///{tmp_path}/x.db"}),
            limits_for(tmp_path, file_roots=()),
        )


def test_redact() -> None:
    shown = "postgresql://fin_reader@db.finance:5432/payroll"
    config = SourceConfig("postgresql", {"url": shown}, secret="hunter2")
    assert redact(config) == "postgresql://fin_reader:***@db.finance:5432/payroll"
    no_secret = SourceConfig("postgresql", {"url": shown})
    assert redact(no_secret) == shown
    no_url = SourceConfig("mysql", {}, secret="hunter2")
    assert redact(no_url) == "mysql source (no URL)"


def test_sessions_are_read_only(source: Source) -> None:
    """Defence in depth: even a statement that got past the compiler could not write."""
    engine = create_engine(config_for(source.kind, source.url), limits_for(source.tmp_path))
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError):
            conn.exec_driver_sql("DELETE FROM people")
    finally:
        engine.dispose()
    assert people_count(source.url) == 7
