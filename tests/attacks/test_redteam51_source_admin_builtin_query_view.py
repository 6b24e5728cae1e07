"""Red team 51, as a source's database administrator (with its steward): a PostgreSQL
view that reads the granted table through a *built-in* function running SQL.

Rule (stop 37): what an entry's object reads is what PostgreSQL's plan of ``SELECT *
FROM <object>`` scans; a function, foreign or custom scan, or a *user* function the view
calls (found by ``pg_depend``), makes it "any table" (``adapters.sql_lineage``).

Attack: PostgreSQL's own functions are pinned (no ``pg_depend`` row) and some of them run
a query given as text or read a table given by name: ``query_to_xml('SELECT … FROM
people', …)``, ``table_to_xml('people', …)``. A view unnesting that XML in its target
list (a ``ProjectSet`` node, not a function scan) shows the table's rows under any
column names while the plan scans nothing: the view "read nothing", so neither the
grants nor a freeze link it to the table (``objects.reads_alike``), and a reshaped one
escapes the name rules too. So does a view calling a *user* function through a user
operator: the view's dependency is on the operator (``pg_operator``), never on the
function behind it.

Expected: such a view may read any table (``ANY_TABLE``) or names the table it reads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.base import ANY_TABLE
from adapters.registry import open_adapter
from tests.adapters.sql_sources import config_for, execute_sql, limits_for, people_database

XML_ROWS = "query_to_xml('SELECT name, region FROM people', true, false, '')"
VIEWS = {
    "via_query_xml": (
        "CREATE VIEW via_query_xml AS SELECT (xpath('/row/name/text()', r))[1]::text AS "
        f"label, 'x' AS team FROM (SELECT unnest(xpath('/table/row', {XML_ROWS})) AS r) s",
    ),
    "via_table_xml": (
        "CREATE VIEW via_table_xml AS SELECT table_to_xml('people', true, false, '') AS doc",
    ),
    "via_schema_xml": (
        "CREATE VIEW via_schema_xml AS SELECT schema_to_xml('public', true, false, '') AS doc",
    ),
    # a server file (a table's own data file), a large object, a logical slot's changes
    # (every row written to any table since the slot was made)
    "via_file": ("CREATE VIEW via_file AS SELECT pg_read_file('PG_VERSION') AS label",),
    "via_large_object": ("CREATE VIEW via_large_object AS SELECT lo_get(1::oid) AS doc",),
    "via_slot": (
        "CREATE VIEW via_slot AS SELECT (pg_logical_slot_peek_changes('s', NULL, NULL)).data",
    ),
    # a user operator: the view depends on the operator, not on the function behind it
    "via_operator": (
        "CREATE FUNCTION peek(a int, b int) RETURNS text LANGUAGE sql STABLE AS "
        "'SELECT string_agg(name, chr(44)) FROM people'",
        "CREATE OPERATOR ### (LEFTARG = int, RIGHTARG = int, FUNCTION = peek)",
        "CREATE VIEW via_operator AS SELECT 1 ### 2 AS label",
    ),
}


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_a_view_over_a_builtin_running_sql_may_read_anything(tmp_path: Path, view: str) -> None:
    with people_database("postgresql", tmp_path) as url:
        execute_sql(url, *VIEWS[view])
        name = view
        adapter = open_adapter(config_for("postgresql", url), limits_for(tmp_path))
        try:
            found = adapter.lineage(name)
        finally:
            adapter.close()
    assert ANY_TABLE in found or "public.people" in found, f"{name} reads {sorted(found)}"
