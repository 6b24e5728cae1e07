"""What an object of a SQL source reads (``SqlAdapter.lineage``), on the real servers:
a view is its tables' data whatever its columns are called (red team 48), and what the
planner cannot show (a user function, a virtual table, a MariaDB view) may read any
table of the system."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.base import ANY_TABLE, SourceAdapter
from adapters.registry import open_adapter
from tests.adapters.sql_sources import config_for, execute_sql, limits_for, people_database

VIEWS = [
    "CREATE TABLE regions (code VARCHAR(20), label VARCHAR(50))",
    "CREATE VIEW swapped AS SELECT region AS name, name AS region, 'x' AS team FROM people",
    "CREATE VIEW joined AS SELECT p.name, r.label FROM people p JOIN regions r "
    "ON r.code = p.region",
    "CREATE VIEW nested AS SELECT name FROM swapped WHERE team = 'x'",
    "CREATE VIEW constant AS SELECT 1 AS one",
]


@pytest.fixture(scope="module", params=["postgresql", "mysql", "sqlite"])
def source(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, SourceAdapter]]:
    kind = request.param
    tmp_path = tmp_path_factory.mktemp(f"lineage_{kind}")
    with people_database(kind, tmp_path) as url:
        execute_sql(url, *VIEWS)
        adapter = open_adapter(config_for(kind, url), limits_for(tmp_path))
        try:
            yield kind, adapter
        finally:
            adapter.close()


def _named(kind: str, *tables: str) -> frozenset[str]:
    schema = {"sqlite": "main", "postgresql": "public"}[kind]
    return frozenset(f"{schema}.{t}" for t in tables)


def test_a_table_reads_itself(source: tuple[str, SourceAdapter]) -> None:
    kind, adapter = source
    found = adapter.lineage("people")
    if kind == "mysql":  # in its database
        assert len(found) == 1 and next(iter(found)).endswith(".people")
    else:
        assert found == _named(kind, "people")


@pytest.mark.parametrize(
    ("view", "tables"),
    [("swapped", ("people",)), ("joined", ("people", "regions")), ("nested", ("people",)),
     ("constant", ())],
)  # fmt: skip
def test_a_view_reads_its_tables_whatever_its_columns_are_called(
    source: tuple[str, SourceAdapter], view: str, tables: tuple[str, ...]
) -> None:
    kind, adapter = source
    if kind == "mysql":  # its plan names aliases: any table
        assert adapter.lineage(view) == frozenset({ANY_TABLE})
    else:
        assert adapter.lineage(view) == _named(kind, *tables)


def test_a_view_over_a_user_function_may_read_anything(tmp_path: Path) -> None:
    with people_database("postgresql", tmp_path) as url:
        execute_sql(
            url,
            "CREATE FUNCTION hidden(x text) RETURNS text LANGUAGE sql AS 'SELECT x'",
            "CREATE VIEW over_function AS SELECT hidden(name) AS name FROM people",
            "CREATE VIEW over_that AS SELECT name FROM over_function",
        )
        adapter = open_adapter(config_for("postgresql", url), limits_for(tmp_path))
        try:
            assert adapter.lineage("over_function") == frozenset({ANY_TABLE})
            assert adapter.lineage("over_that") == frozenset({ANY_TABLE})
            assert adapter.lineage("people") == frozenset({"public.people"})
        finally:
            adapter.close()


def test_a_materialized_view_reads_the_tables_it_was_made_of(tmp_path: Path) -> None:
    """Its plan scans only its stored copy; the rows are the people table's."""
    with people_database("postgresql", tmp_path) as url:
        execute_sql(url, "CREATE MATERIALIZED VIEW kept AS SELECT name AS region, 'x' AS team "
                         "FROM people",
                    "CREATE VIEW over_kept AS SELECT region FROM kept")  # fmt: skip
        adapter = open_adapter(config_for("postgresql", url), limits_for(tmp_path))
        try:
            for name in ("kept", "over_kept"):
                assert adapter.lineage(name) == frozenset({"public.kept", "public.people"})
        finally:
            adapter.close()


def test_a_virtual_table_may_read_anything(tmp_path: Path) -> None:
    with people_database("sqlite", tmp_path) as url:
        execute_sql(url, "CREATE VIRTUAL TABLE notes USING fts5(body)",
                    "CREATE VIEW over_notes AS SELECT body FROM notes")  # fmt: skip
        adapter = open_adapter(config_for("sqlite", url), limits_for(tmp_path))
        try:
            assert adapter.lineage("over_notes") == frozenset({ANY_TABLE})
            assert adapter.lineage("missing") == frozenset({ANY_TABLE})  # refused: unknown
        finally:
            adapter.close()


@pytest.mark.parametrize(
    "select",
    [
        "SELECT attname, histogram_bounds :: text AS bounds, most_common_vals :: text AS common "
        "FROM pg_stats WHERE tablename = 'people'",
        "SELECT loid, data FROM pg_largeobject",
    ],
)
def test_a_view_over_a_catalog_of_other_tables_values_may_read_anything(
    tmp_path: Path, select: str
) -> None:
    """``pg_stats`` samples every analysed column (a unique ID-number column's histogram
    bounds are a hundred of its real numbers) while its plan reads only ``pg_catalog``'s
    tables: a reshaped view of the roll by another road (red team 50)."""
    with people_database("postgresql", tmp_path) as url:
        execute_sql(url, "ANALYZE people", f"CREATE VIEW sampled AS {select}",
                    "CREATE VIEW over_sampled AS SELECT * FROM sampled")  # fmt: skip
        adapter = open_adapter(config_for("postgresql", url), limits_for(tmp_path))
        try:
            assert adapter.lineage("sampled") == frozenset({ANY_TABLE})
            assert adapter.lineage("over_sampled") == frozenset({ANY_TABLE})
        finally:
            adapter.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_view_redefined_since_the_adapter_connected_is_told_as_it_is_now(
    kind: str, tmp_path: Path
) -> None:
    """The broker asks its pooled adapter while a freeze stands (stop 38): a connection
    that planned the view before, its statements cached, tells what it reads now."""
    with people_database(kind, tmp_path) as url:
        execute_sql(url, "CREATE TABLE regions (code VARCHAR(20), label VARCHAR(50))",
                    "CREATE VIEW moved AS SELECT code AS name FROM regions")  # fmt: skip
        adapter = open_adapter(config_for(kind, url), limits_for(tmp_path))
        try:
            for _ in range(6):  # past psycopg's threshold for preparing a statement
                assert adapter.lineage("moved") == _named(kind, "regions")
            execute_sql(url, "DROP VIEW moved", "CREATE VIEW moved AS SELECT name FROM people")
            assert adapter.lineage("moved") == _named(kind, "people")
        finally:
            adapter.close()


def test_a_mariadb_merge_table_may_read_anything(tmp_path: Path) -> None:
    """A ``MERGE`` table is a base table whose rows are other tables', under column names
    of its own: not itself (red team 52)."""
    with people_database("mysql", tmp_path) as url:
        execute_sql(
            url,
            "CREATE TABLE kept (a varchar(18), b varchar(40)) ENGINE=MyISAM",
            "CREATE TABLE merged (x varchar(18), y varchar(40)) ENGINE=MERGE UNION=(kept)",
        )
        adapter = open_adapter(config_for("mysql", url), limits_for(tmp_path))
        try:
            assert adapter.lineage("merged") == frozenset({ANY_TABLE})
            kept = adapter.lineage("kept")
            assert len(kept) == 1 and next(iter(kept)).endswith(".kept")
        finally:
            adapter.close()


def test_a_view_over_a_parent_names_every_partition_whatever_was_pruned(tmp_path: Path) -> None:
    """A stable expression prunes at the executor's start, ``EXPLAIN`` included: the plan
    of a view keeping one partition by ``pg_backend_pid()`` names that one only (red
    team 52)."""
    with people_database("postgresql", tmp_path) as url:
        execute_sql(
            url,
            "CREATE TABLE parted (a text, k int) PARTITION BY LIST (k)",
            "CREATE TABLE part_0 PARTITION OF parted FOR VALUES IN (0)",
            "CREATE TABLE part_1 PARTITION OF parted FOR VALUES IN (1)",
            "CREATE VIEW one_part AS SELECT a FROM parted WHERE k = mod(pg_backend_pid(), 2)",
        )
        adapter = open_adapter(config_for("postgresql", url), limits_for(tmp_path))
        try:
            found = adapter.lineage("one_part")
        finally:
            adapter.close()
    assert _named("postgresql", "parted", "part_0", "part_1") <= found, found
