"""Red team 52, as civil's steward (carl) with civil's database administrator, and the
analyst (dora) a freeze is meant to stop: a view over a partitioned table whose plan
leaves the roll out at random.

Rule (stop 38): while an entry of a system is frozen, before any entry of that system is
served the broker asks the source what its object reads now (PostgreSQL's ``EXPLAIN
(VERBOSE)`` plan, and the relations the stored rules under it name) and refuses it when it
reads a table of the frozen entry.

Attack: the administrator makes the roll a partition of a parent (``p``, partitioned by a
key ``k``: the roll holds ``k = 1``, a harmless partition ``k = 0``) and a view over the
parent that keeps the partition ``k = microseconds of now() mod 2``. ``now()`` is stable,
so PostgreSQL prunes at the executor's start — ``EXPLAIN`` without ``ANALYZE`` included:
``Subplans Removed: 1`` — and each transaction's start picks one partition at random. The
question (one transaction) and the read (another) agree half the time: in one try of
four the plan shows the harmless partition and the parent (not the roll), and the read
returns the roll's rows. sam freezes the roll; dora asks a few times and reads the
frozen rows (200).

Expected: 423 every time: a parent's rows are its partitions', whatever the plan pruned.
On the embedded default and on PostgreSQL (the source is PostgreSQL on both).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.attacks.civil_entries import publish_civil_entry
from tests.attacks.frozen_roll import entry_frozen
from tests.attacks.test_steward_sources import allowing
from tests.conftest import PG_ADMIN, create_pg_database, drop_pg_database
from tests.gateway.demo_app import DemoGateway

__all__ = ["allowing"]  # a fixture, used by name
TRIES = 24  # a leak is one in four: missed by all with a chance of 0.1 %
QUERY = {"purpose": "supervision", "case_ref": "JW-RT52-PRUNED",
         "fields": ["region_code", "team"]}  # fmt: skip
ROLL_COUNTY, OTHER_COUNTY = "430121", "430122"


@pytest.fixture()
def civil_pg() -> Iterator[str]:
    """civil's database: the roll a partition of ``p``, a harmless one beside it, and
    the view over ``p`` keeping one of them by the transaction's start."""
    name, url = create_pg_database("sluice_rt52_part")
    try:
        _made(name)
        yield url
    finally:
        drop_pg_database(name)


def _made(name: str) -> None:
    with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as db:
        db.execute("CREATE TABLE p (id_number text, name text, region_code text, k int) "
                   "PARTITION BY LIST (k)")  # fmt: skip
        db.execute("CREATE TABLE roll PARTITION OF p FOR VALUES IN (1)")
        db.execute("CREATE TABLE other PARTITION OF p FOR VALUES IN (0)")
        db.execute("INSERT INTO p VALUES ('430121199001011234', 'Wang Fang', %s, 1), "
                   "('430122200001010011', 'Test One', %s, 0)",
                   (ROLL_COUNTY, OTHER_COUNTY))  # fmt: skip
        db.execute("CREATE VIEW pruned AS SELECT id_number, name, region_code, "
                   "'civil'::text AS team FROM p "
                   "WHERE k = CAST(extract(microseconds FROM now()) AS int) % 2")  # fmt: skip


def test_a_view_over_the_rolls_parent_pruned_at_random_does_not_serve_it(
    allowing: DemoGateway, civil_pg: str
) -> None:
    gw = allowing
    tag = uuid.uuid4().hex[:8]
    source = f"civil-pg-rt52p-{tag}"
    created = gw.client.post("/api/v1/sources", headers=gw.headers("carl"), json={
        "id": source, "department": "civil", "kind": "postgresql",
        "display_name": source, "settings": {"url": civil_pg}})  # fmt: skip
    assert created.status_code in (200, 201), created.text
    roll, view = f"civil.rt52p_roll_{tag}", f"civil.rt52p_view_{tag}"
    publish_civil_entry(gw, source, "roll", roll, hashed=False)
    publish_civil_entry(gw, source, "pruned", view, hashed=False)
    with entry_frozen(gw, roll):
        reads = [gw.query("dora", view, QUERY) for _ in range(TRIES)]
    served = [r.json()["rows"] for r in reads if r.status_code == 200]
    leaked = [rows for rows in served if any(row["region_code"] == ROLL_COUNTY for row in rows)]
    assert not leaked, (
        f"the frozen roll read through the view in {len(leaked)} of {TRIES} tries: "
        f"{leaked[0]} (statuses {sorted({r.status_code for r in reads})})"
    )
