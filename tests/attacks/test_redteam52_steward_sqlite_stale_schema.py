"""Red team 52, as civil's steward (carl) with civil's database administrator, and the
analyst (dora) a freeze is meant to stop: a view that two pooled connections of the
gateway's own pool to civil's SQLite file know by two definitions.

Rule (stop 38): while an entry of a system is frozen, before any entry of that system is
served the broker asks the source what its object reads now (``lineage_now``: SQLite's
``EXPLAIN`` through the process's pooled adapter, after reading ``sqlite_master`` so that
a changed schema is reloaded) and refuses it when it reads a table of the frozen entry.

Attack: a SQLite connection reloads its schema only when the file's schema cookie
changes. The administrator owns the file: with ``PRAGMA writable_schema`` he rewrites
the view's text in ``sqlite_master`` to read the roll and puts the cookie back as it was
(``PRAGMA integrity_check`` still says ``ok``). Every connection that had loaded the
schema keeps the old view (the death register); one opened since reads the roll. One of
dora's reads of a slow view holds the pool's old connection a moment while her read of
the roll opens a new one; the pool hands them out in turn, so the question is asked on
the old connection and the read made on the new one. sam freezes the roll; dora reads
its rows through the view (200, the view's ``team`` column says which text was read).

Expected: the frozen roll's rows never come back through the view. On the embedded
default and on PostgreSQL (civil's data are the demo's SQLite file on both).
"""

from __future__ import annotations

import sqlite3
import threading
import time

from tests.attacks.frozen_roll import roll_frozen
from tests.attacks.test_redteam10_steward_frozen_entry_copy import DIBAO, _post
from tests.attacks.test_redteam45_analyst_view_codebook import civil_database, draft_view
from tests.gateway.demo_app import DemoGateway

VIEW = "team_rt52"
SLOW = "slow_rt52"
QUERY = {"purpose": "supervision", "case_ref": "JW-RT52-COOKIE",
         "fields": ["region_code", "team"], "limit": 5}  # fmt: skip


def _text(table: str, team: str) -> str:
    return f"SELECT id_number, name, region_code, '{team}' AS team FROM {table}"


def _rewritten_keeping_the_cookie(gw: DemoGateway) -> None:
    """The view's text in ``sqlite_master`` now reads the roll; the cookie as it was."""
    with sqlite3.connect(civil_database(gw), isolation_level=None) as db:
        (cookie,) = db.execute("PRAGMA schema_version").fetchone()
        db.execute("PRAGMA writable_schema = ON")
        over_roll = f"CREATE VIEW {VIEW} AS {_text('dibao_recipients', 'roll')}"
        db.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?", (over_roll, VIEW))
        db.execute(f"PRAGMA schema_version = {int(cookie)}")
        db.execute("PRAGMA writable_schema = OFF")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _old_and_new_connections(gw: DemoGateway) -> None:
    """dora's read of the slow view holds the pool's connection (the old schema) while
    her read of the roll opens a new one (the rewritten schema)."""
    slow = f"civil.{SLOW}"
    waiting = threading.Thread(target=lambda: gw.query("dora", slow, {**QUERY, "fields": ["n"]}),
                               daemon=True)  # fmt: skip
    waiting.start()
    time.sleep(0.3)
    assert gw.query("dora", DIBAO, {**QUERY, "fields": ["region_code"]}).status_code == 200
    waiting.join(30)


def test_a_view_two_pooled_connections_know_apart_does_not_serve_the_frozen_roll(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    entry = draft_view(gw, VIEW, _text("death_registrations", "death"))
    slow = draft_view(gw, SLOW, "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
                      "FROM c WHERE n < 4000000) SELECT '430121' AS region_code, n FROM c "
                      "WHERE n = 4000000")  # fmt: skip
    try:
        for published in (entry, slow):
            assert _post(gw, "carl", f"/datasets/{published}/publish", {}).status_code == 200
        assert gw.query("dora", entry, QUERY).status_code == 200  # the death register
        _rewritten_keeping_the_cookie(gw)
        _old_and_new_connections(gw)
        with roll_frozen(gw):
            reads = [gw.query("dora", entry, QUERY) for _ in range(4)]
    finally:
        with sqlite3.connect(civil_database(gw)) as db:
            db.execute(f"DROP VIEW IF EXISTS {VIEW}")
            db.execute(f"DROP VIEW IF EXISTS {SLOW}")
    served = [r.json()["rows"] for r in reads if r.status_code == 200]
    leaked = [rows for rows in served if any(row["team"] == "roll" for row in rows)]
    assert not leaked, (
        f"the frozen roll read through the view during the freeze: {leaked[0]} "
        f"(statuses {[r.status_code for r in reads]})"
    )
