"""Which tables an object of a SQL source reads, as the source's own planner tells it.

Why: a view is listed and published like a table, and its field names say nothing of
where its values come from. ``SELECT name AS id_number, id_number AS name … FROM
dibao_recipients`` or ``SELECT id_number, …, 'civil' AS team FROM dibao_recipients`` is
the granted roll to anyone who reads both, yet by names it is another table (red team
48). The database knows: it plans ``SELECT * FROM <object>`` down to the tables it
opens. The answer is a set of qualified table names (``schema.table``), compared within
one system only; ``None`` where the source cannot tell (a virtual table or a function
whose reads the plan does not show, a dialect whose plan names aliases, not tables:
MySQL/MariaDB) — the catalog's name rules then stand alone, as before.

Nothing here reads a row: SQLite's ``EXPLAIN`` lists the program, PostgreSQL's
``EXPLAIN`` (no ``ANALYZE``) the plan.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import text

# SQLite opcodes that read something the catalog cannot name as a table of this file
_SQLITE_UNKNOWN = frozenset({"VOpen", "VFilter"})
# PostgreSQL plan nodes whose reads the plan does not show (a set-returning function may
# run any query, a foreign scan reads another server)
_PG_UNKNOWN = frozenset({"Function Scan", "Table Function Scan", "Foreign Scan", "Custom Scan"})
# catalogs holding other tables' values: ``pg_stats`` (over ``pg_statistic``) shows
# every analysed column's most common values and histogram bounds (about a hundred of a
# unique ID-number column's real numbers), and ``pg_largeobject`` any owner's objects
# (red team 51's left row (2), red team 50)
_PG_DATA_CATALOGS = frozenset(
    {"pg_catalog.pg_statistic", "pg_catalog.pg_statistic_ext_data", "pg_catalog.pg_largeobject"}
)
# PostgreSQL's own functions that run a query given as text or read a relation, schema
# or database given by name (``query_to_xml('SELECT … FROM people', …)``), or read data
# no plan shows as a relation: pinned, so no ``pg_depend`` row, and the plan scans
# nothing (red team 51)
_PG_RUNNING_SQL = [
    f"{what}_to_xml{form}"
    for what in ("query", "cursor", "table", "schema", "database")
    for form in ("", "schema", "_and_xmlschema")
] + [
    "ts_stat",
    "ts_rewrite",
    # a server file (a table's own data file too), a large object, a logical slot's
    # changes (the rows written to any table since the slot was made)
    "pg_read_file",
    "pg_read_binary_file",
    "lo_get",
    "loread",
    "lo_export",
    "pg_logical_slot_peek_changes",
    "pg_logical_slot_get_changes",
    "pg_logical_slot_peek_binary_changes",
    "pg_logical_slot_get_binary_changes",
]
# the object and every relation its rewrite rules (a view's, a materialized view's) name,
# through views of views
_PG_UNDER = """
WITH RECURSIVE under(oid) AS (
  SELECT CAST(%(object)s AS regclass)::oid
  UNION
  SELECT d.refobjid FROM under
  JOIN pg_rewrite r ON r.ev_class = under.oid
  JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
   AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> under.oid
)"""
# any of them calling a user function — by its dependency, or as the function behind an
# operator (the view depends on a user operator, not on its function) — or one of
# PostgreSQL's that run SQL: any of them may read any table
_PG_USER_FUNCTIONS = (
    _PG_UNDER
    + """,
rules AS (SELECT r.oid, r.ev_action::text AS tree FROM under
          JOIN pg_rewrite r ON r.ev_class = under.oid),
called AS (
  SELECT CAST((regexp_matches(tree, ':(?:funcid|aggfnoid|winfnoid) (\\d+)', 'g'))[1] AS oid)
    AS fn FROM rules
  UNION
  SELECT o.oprcode::oid FROM rules
  CROSS JOIN LATERAL regexp_matches(tree, ':opno (\\d+)', 'g') AS m
  JOIN pg_operator o ON o.oid = CAST(m[1] AS oid)
)
SELECT EXISTS (
  SELECT 1 FROM rules
  JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rules.oid
   AND d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass)
) OR EXISTS (
  SELECT 1 FROM called JOIN pg_proc p ON p.oid = called.fn
  WHERE p.pronamespace <> 'pg_catalog'::regnamespace OR p.proname = ANY(%(runs_sql)s)
)"""
)
# the relations that hold rows among them (tables, partitioned and foreign tables, and
# materialized views, whose plan scans only their stored copy), and every partition and
# inheriting child of each, whatever the plan pruned: a stable expression (``now()``,
# ``pg_backend_pid()``, a setting) prunes at the executor's start, ``EXPLAIN`` included,
# so a view over the roll's parent keeping one partition by the transaction's start
# showed the roll to one transaction and a harmless partition to the next (red team 52)
_PG_STORED = (
    _PG_UNDER
    + """,
family(oid) AS (
  SELECT oid FROM under
  UNION
  SELECT i.inhrelid FROM family JOIN pg_inherits i ON i.inhparent = family.oid
)
SELECT n.nspname, c.relname, c.relkind FROM family
JOIN pg_class c ON c.oid = family.oid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm', 'f')"""
)


def sqlite_lineage(dbapi: Any, quoted: str) -> frozenset[str] | None:
    """``quoted`` (the object's name, quoted and qualified as it is selected from) by
    the root pages its program opens, each named by the schema that owns the page (an
    index names its table). A virtual table's reads are its module's: unknown. Functions
    are SQLite's own (the adapter registers none), which read only their arguments.
    Planned against the schema as it is now (``_sqlite_schema_now``)."""
    now = _sqlite_schema_now(dbapi)
    program = dbapi.execute(f"EXPLAIN SELECT * FROM {quoted} -- schema {now}").fetchall()
    opened: set[tuple[int, int]] = set()
    for row in program:
        opcode = str(row[1])
        if opcode in _SQLITE_UNKNOWN:
            return None
        if opcode == "OpenRead":
            opened.add((int(row[3]), int(row[4])))  # p2 root page, p3 database
    schemas = {int(r[0]): str(r[1]) for r in dbapi.execute("PRAGMA database_list").fetchall()}
    names: set[str] = set()
    for database in {db for _page, db in opened}:
        schema = schemas.get(database)
        if schema is None:
            return None
        pages = _sqlite_pages(dbapi, schema)
        for page, db in opened:
            if db == database:
                if page not in pages:
                    return None
                names.add(f"{schema}.{pages[page]}")
    return frozenset(names)


def _sqlite_schema_now(dbapi: Any) -> str:
    """Every attached database's schema read again, and their versions as one key. A
    pooled connection plans against the schema it loaded: a statement that runs checks
    the file's schema cookie first, but ``EXPLAIN`` runs nothing, and the driver's
    statement cache hands back the program prepared before — a view redefined at the
    source since was told as reading its old table, while a query read the new one
    (stop 38: the broker asks its pooled adapter while a freeze stands). Reading each
    ``sqlite_master`` reloads a changed schema; the key (in the ``EXPLAIN``'s text)
    makes a changed one a statement of its own."""
    versions = []
    for _seq, schema, _file in dbapi.execute("PRAGMA database_list").fetchall():
        name = _unquote(str(schema))
        master = "sqlite_temp_master" if schema == "temp" else f'"{name}".sqlite_master'
        dbapi.execute(f"SELECT 1 FROM {master} LIMIT 1").fetchall()
        versions.append(str(dbapi.execute(f'PRAGMA "{name}".schema_version').fetchone()[0]))
    return ".".join(versions)


def _sqlite_pages(dbapi: Any, schema: str) -> Mapping[int, str]:
    """Root page → the table it belongs to (an index's page → its table)."""
    master = "sqlite_temp_master" if schema == "temp" else f'"{_unquote(schema)}".sqlite_master'
    rows = dbapi.execute(f"SELECT tbl_name, rootpage FROM {master} WHERE rootpage > 0").fetchall()
    return {int(page): str(table) for table, page in rows}


def _unquote(name: str) -> str:
    return name.replace('"', '""')


def postgres_lineage(dbapi: Any, quoted: str) -> frozenset[str] | None:
    """The relations PostgreSQL's plan of ``SELECT * FROM <quoted>`` scans, with their
    schemas (``VERBOSE`` names them), and those the rewrite rules under it name: a
    materialized view is a stored copy (its plan scans only that) made by a query whose
    tables the catalog records; and every partition or inheriting child of a relation
    among them, which a stable expression may have pruned from the plan. A function,
    foreign or custom scan, a foreign table, or
    a user function the view (or a view under it) calls, makes it unknown: the plan does
    not show what a PL/pgSQL function selects (PostgreSQL records no dependency on its
    own functions, only on users'), nor of PostgreSQL's own that run SQL
    (``query_to_xml``), and a user operator is a dependency on the operator, its
    function called behind it (red team 51). A catalog holding other tables' values
    (``pg_statistic`` under ``pg_stats``) makes it unknown too (red team 50)."""
    with dbapi.cursor() as cursor:
        cursor.execute(f"EXPLAIN (VERBOSE, FORMAT JSON) SELECT * FROM {quoted}")
        (found,) = cursor.fetchone()
        cursor.execute(_PG_USER_FUNCTIONS, {"object": quoted, "runs_sql": _PG_RUNNING_SQL})
        (calls,) = cursor.fetchone()
        cursor.execute(_PG_STORED, {"object": quoted})
        stored = cursor.fetchall()
    if calls or any(kind == "f" for _schema, _name, kind in stored):
        return None
    plan = json.loads(found) if isinstance(found, str) else found
    names: set[str] = set()
    for node in _nodes(plan[0]["Plan"]):
        if node.get("Node Type") in _PG_UNKNOWN:
            return None
        relation = node.get("Relation Name")
        if relation is not None:
            names.add(f"{node.get('Schema', '')}.{relation}")
    names |= {f"{schema}.{name}" for schema, name, _kind in stored}
    return None if names & _PG_DATA_CATALOGS else frozenset(names)


# MySQL/MariaDB engines that keep a table's own rows; any other (``MRG_MyISAM``, a
# ``MERGE`` table whose rows are other tables', live and under column names of its own;
# ``FEDERATED``, ``CONNECT``, ``SPIDER``: another table or server) may read any table
_MYSQL_OWN_ROWS = frozenset(
    {"innodb", "myisam", "aria", "memory", "heap", "csv", "archive", "rocksdb", "tokudb"}
)
_MYSQL_ENGINE = (
    "SELECT TABLE_TYPE, ENGINE FROM information_schema.TABLES "
    "WHERE TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :name"
)


def mysql_lineage(
    conn: Any, schema: str | None, object_name: str, home: str
) -> frozenset[str] | None:
    """A MySQL/MariaDB table reads itself (``schema.table``) when its engine keeps its
    own rows; a view (its plan names aliases, not tables), a table of an engine that
    reads others (a ``MERGE`` table of the roll under other column names was no part of
    it by names and read only itself: red team 52), or an object the server does not
    list cannot be told (None). ``conn``: a SQLAlchemy connection to the source;
    ``home``: the database the table is named in."""
    found = conn.execute(text(_MYSQL_ENGINE), {"schema": schema, "name": object_name}).first()
    if found is None or str(found[0]).upper() != "BASE TABLE":
        return None
    if str(found[1] or "").lower() not in _MYSQL_OWN_ROWS:
        return None
    return frozenset({f"{home}.{object_name}"})


def _nodes(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)
