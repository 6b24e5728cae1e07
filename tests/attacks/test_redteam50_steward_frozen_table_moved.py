"""Red team 50, as civil's database administrator with its steward: the frozen table
moved under a view of its own name, so what the frozen entry is recorded as reading no
longer names the table its data live in.

Rule (stop 37): a freeze holds every entry of the frozen entry's system whose object
reads a table in common with it, as the source's planner told at each entry's draft or
last refresh (``datasets.reads``); a frozen entry is not refreshed while the freeze
stands.

Attack: civil's administrator renames the roll's table (``dibao_recipients`` →
``dibao_rt50_kept``) and creates a view ``dibao_recipients`` over it: the roll's entry
serves as before, recorded as reading ``main.dibao_recipients``. He creates red team
48's reshaped view over the renamed table; carl drafts it (it reads
``main.dibao_rt50_kept``). sam freezes the roll; carl publishes the reshaped view (200)
and dora reads the frozen rows through it (200). The roll cannot be refreshed during
the freeze, and its recorded reads name a view that reads nothing else.

Expected: 409, and the view never read (a draft: 404). Closed by stop 38: the freeze
records what the frozen entry reads now beside what it was recorded as reading
(``emergency.record_reads_now``); on the embedded default and PostgreSQL (civil's data
are the demo's SQLite file on both).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from tests.attacks.frozen_roll import roll_frozen
from tests.attacks.test_redteam10_steward_frozen_entry_copy import QUERY, _post
from tests.attacks.test_redteam45_analyst_view_codebook import civil_database, draft_view
from tests.gateway.demo_app import DemoGateway

KEPT = "dibao_rt50_kept"
RESHAPED = (
    "SELECT id_number, name, household_size, monthly_amount, start_date, status, "
    f"region_code, last_paid, 'civil' AS team FROM {KEPT}"
)


@contextmanager
def roll_moved(gw: DemoGateway) -> Iterator[None]:
    """The roll's table renamed and a view of its name over it, until exit."""
    path = civil_database(gw)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA legacy_alter_table = ON")  # other views keep their text
        db.execute(f"ALTER TABLE dibao_recipients RENAME TO {KEPT}")
        db.execute(f"CREATE VIEW dibao_recipients AS SELECT * FROM {KEPT}")
    try:
        yield
    finally:
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA legacy_alter_table = ON")
            db.execute("DROP VIEW dibao_recipients")
            db.execute(f"ALTER TABLE {KEPT} RENAME TO dibao_recipients")


def test_a_view_of_the_frozen_table_moved_under_a_view_is_held(deployment: DemoGateway) -> None:
    gw = deployment
    with roll_moved(gw):
        view = draft_view(gw, "dibao_rt50_moved_side", RESHAPED)
        try:
            assert gw.query("dora", "civil.dibao_recipients", QUERY).status_code == 200
            with roll_frozen(gw):
                published = _post(gw, "carl", f"/datasets/{view}/publish", {})
                read = gw.query("dora", view, QUERY)
        finally:
            with sqlite3.connect(civil_database(gw)) as db:
                db.execute("DROP VIEW IF EXISTS dibao_rt50_moved_side")
    assert published.status_code == 409, f"published during the freeze: {published.text[:200]}"
    # refused, it is a draft, which nobody reads (404); published, the broker's 423
    assert read.status_code in (404, 423), f"the frozen roll read ({read.status_code})"
