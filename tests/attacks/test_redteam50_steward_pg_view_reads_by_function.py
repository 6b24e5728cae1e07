"""Red team 50, as a steward with civil's database administrator (and the analyst a
freeze or a grant's case is meant to bind): a PostgreSQL view that reads the roll
through a built-in function, so the plan the gateway asks shows no table.

Rule (stop 37): at a draft and each refresh the gateway asks the source's planner which
tables an object reads (``adapters.sql_lineage``: PostgreSQL's ``EXPLAIN (VERBOSE)``
plan); entries of one system reading a table in common are one data to a freeze and to
the grants, whatever their columns are called. A user function makes the object read
"any table" (the plan does not show what it selects).

Attack: civil's administrator creates, beside the roll, a view that selects nothing but
what PostgreSQL's own ``query_to_xml('SELECT * FROM roll', …)`` returns, unpacked with
``xpath`` into the roll's ID numbers, names and region codes, plus a constant ``team``
column (so that, by names, it is nested neither way with the roll: red team 48's
reshape). ``query_to_xml`` (like ``table_to_xml``, ``ts_stat``, ``ts_rewrite``) is a
built-in: no ``pg_depend`` row, and its SQL runs inside a ``Result``/``ProjectSet``
node the plan shows no relation for. The view "reads nothing" (``reads = []``). And a
view over a materialized view of the same reshape: its plan scans the materialized view
alone (``reads`` names nothing else), though the server records what it was made from.
And a view calling a user's function through a user's operator (``'id_number' %% i``):
the view depends on the operator, not on its function, so it was no "user function".
(These three red team 51 found and closed too, in the adapter's tests.) And a view over
``pg_stats``, whose histogram bounds are a sample of the roll's real ID numbers: the
freeze of the roll left it serving (red team 51's left row (2)).

- sam freezes the roll: dora still read the frozen rows through the view (200);
- civil grants dora the roll's ``id_number`` under one case: under another case she
  read the view's tokens, the same tokens anyone reads for those numbers under that
  case (a codebook of every department's tokens there).

Expected: 423 while the freeze stands; the view's tokens under another case none of
that case's. On the embedded default and PostgreSQL (the source is PostgreSQL on both).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.attacks.civil_entries import publish_civil_entry
from tests.attacks.frozen_roll import entry_frozen
from tests.attacks.test_redteam37_analyst_date_shift_codebook import _ok
from tests.attacks.test_redteam38_analyst_grant_across_cases import _rows
from tests.attacks.test_redteam42_insider_unverified_grant_known_everywhere import ask_for_ids
from tests.attacks.test_steward_sources import allowing
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.demo_app import DemoGateway

__all__ = ["allowing"]  # a fixture, used by name
FIELDS = ["region_code", "name", "id_number"]

# each row of the roll as XML, unpacked: no relation in the plan
THROUGH_XML = """
SELECT (xpath('/row/id_number/text()', r))[1]::text AS id_number,
       (xpath('/row/name/text()', r))[1]::text AS name,
       (xpath('/row/region_code/text()', r))[1]::text AS region_code,
       'civil'::text AS team
FROM (SELECT unnest(xpath('/table/row',
        query_to_xml('SELECT * FROM roll', false, false, ''))) AS r) AS s
"""

# red team 48's reshape, kept by the server (the gateway lists no materialized view,
# a view over one it does): its plan scans the materialized view alone
RESHAPED = "SELECT id_number, name, region_code, 'civil'::text AS team FROM roll"
# a user's operator: the view depends on it (``pg_operator``), not on its function
THROUGH_OPERATOR = (
    "CREATE TABLE tally (i integer)",
    "INSERT INTO tally VALUES (0), (1), (2)",
    "CREATE FUNCTION peek(col text, i integer) RETURNS text LANGUAGE plpgsql STABLE AS "
    "$$ BEGIN RETURN (SELECT CASE col WHEN 'name' THEN name WHEN 'region_code' "
    "THEN region_code ELSE id_number END FROM roll ORDER BY id OFFSET i LIMIT 1); END $$",
    "CREATE OPERATOR %% (LEFTARG = text, RIGHTARG = integer, FUNCTION = peek)",
    "CREATE VIEW roll_op AS SELECT ('id_number' %% i) AS id_number, ('name' %% i) AS name, "
    "('region_code' %% i) AS region_code, 'civil'::text AS team FROM tally",
)
VIEWS = ["roll_xml", "roll_via_mv", "roll_op"]
# the roll's values as PostgreSQL's statistics sample them (a unique column's histogram
# bounds are real values): its plan reads only ``pg_catalog``'s tables
SAMPLED = (
    "SELECT attname::text AS region_code, histogram_bounds::text AS id_number, "
    "most_common_vals::text AS name, 'civil'::text AS team FROM pg_stats "
    "WHERE tablename = 'roll'"
)


@pytest.fixture(scope="module")
def civil_pg() -> Iterator[str]:
    """civil's PostgreSQL database: the roll and the view over it through XML."""
    name, url = create_pg_database("sluice_rt50_xml")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE roll (id integer PRIMARY KEY, id_number text, "
                          "name text, region_code text, amount integer)"))  # fmt: skip
        conn.execute(text("INSERT INTO roll VALUES "
                          "(1, '430121199001011234', 'Wang Fang', '430121', 800), "
                          "(2, '430121198502023456', 'Li Wei', '430121', 650), "
                          "(3, '430122197703034567', 'Zhao Min', '430122', 900)"))  # fmt: skip
        conn.execute(text(f"CREATE VIEW roll_xml AS {THROUGH_XML}"))
        conn.execute(text(f"CREATE MATERIALIZED VIEW roll_mv AS {RESHAPED}"))
        conn.execute(text("CREATE VIEW roll_via_mv AS SELECT * FROM roll_mv"))
        for statement in THROUGH_OPERATOR:
            conn.execute(text(statement))
        conn.execute(text("ANALYZE roll"))
        conn.execute(text(f"CREATE VIEW roll_stats AS {SAMPLED}"))
    engine.dispose()
    try:
        yield url
    finally:
        drop_pg_database(name)


def roll_and_view(gw: DemoGateway, url: str, obj: str) -> tuple[str, str]:
    """A civil source for ``url``; the roll and ``obj`` published (entry ids)."""
    tag = uuid.uuid4().hex[:8]
    source, roll, view = f"civil-pg-rt50-{tag}", f"civil.rt50_roll_{tag}", f"civil.rt50_xml_{tag}"
    _ok(gw.client.post("/api/v1/sources", headers=gw.headers("carl"), json={
        "id": source, "department": "civil", "kind": "postgresql",
        "display_name": source, "settings": {"url": url}}))  # fmt: skip
    publish_civil_entry(gw, source, "roll", roll, hashed=True)
    publish_civil_entry(gw, source, obj, view, hashed=True)
    return roll, view


@pytest.mark.parametrize("obj", [*VIEWS, "roll_stats"])
def test_a_freeze_of_the_roll_stops_a_view_reading_it_through_xml(
    allowing: DemoGateway, civil_pg: str, obj: str
) -> None:
    gw = allowing
    roll, view = roll_and_view(gw, civil_pg, obj)
    query = {"purpose": "supervision", "case_ref": "JW-RT50-F", "fields": ["region_code"]}
    assert gw.query("dora", view, query).status_code == 200
    with entry_frozen(gw, roll):
        read = gw.query("dora", view, query)
    assert read.status_code == 423, (
        f"the frozen roll read through {obj} ({read.status_code}): {read.text[:200]}"
    )


@pytest.mark.parametrize("obj", VIEWS)
def test_a_grant_of_the_roll_is_no_codebook_through_a_view_reading_it_through_xml(
    allowing: DemoGateway, civil_pg: str, obj: str
) -> None:
    gw = allowing
    roll, view = roll_and_view(gw, civil_pg, obj)
    asked = ask_for_ids(gw, roll, "JW-RT50-G-GRANT")
    _ok(gw.client.post(f"/api/v1/access-requests/{asked}/approve", headers=gw.headers("carl"),
                       json={}))  # fmt: skip
    clear = _rows(gw, "dora", roll, FIELDS, "JW-RT50-G-GRANT", "supervision")
    assert clear and all(r["id_number"].isdigit() for r in clear)
    mine = _rows(gw, "dora", view, FIELDS, "JW-RT50-G", "supervision")
    everyones = {
        r["id_number"] for r in _rows(gw, "alice", roll, FIELDS, "JW-RT50-G", "supervision")
    }
    assert everyones and all(t.startswith("tk_") for t in everyones)
    decoded = [r for r in mine if r["id_number"] in everyones]
    assert not decoded, (
        f"{len(decoded)} of the case's tokens read through the view beside the roll in "
        "clear under the grant's case: every department's tokens of those people decoded"
    )
