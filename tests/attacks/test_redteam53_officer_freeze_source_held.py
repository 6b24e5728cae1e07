"""Red team 53, as a security officer, with civil's database administrator against
them: the freeze of an entry whose source does not answer.

Rule (stop 38): the freeze records what the frozen entry's object reads now, asked of
its source within ``lineage_now.ASK_WITHIN_S``; a source that does not answer in time
may read any table (``ANY_TABLE``): the freeze is not held back, and holds more, never
less.

Attack: civil's administrator holds an exclusive lock on civil's database file while
sam freezes the roll (a writer that never commits), then lets go.

Expected: the freeze answers (200) within the bound, not after the client's timeout;
the roll's recorded reads gain "any table"; the copy published before the freeze is
refused (423) while the lock holds and after; another admin lifts it and the copy
serves again. Held when red team 53 tried it (a guard). On the embedded default and on
PostgreSQL (the catalog's engine; civil's source is the demo's SQLite file on both).
"""

from __future__ import annotations

import sqlite3
import time

from tests.attacks.dibao_copy import publish_dibao_copy
from tests.attacks.test_redteam45_analyst_view_codebook import civil_database
from tests.attacks.test_stop38_lineage_asked_again import _reads
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
COPY = "civil.dibao_rt53_held"
QUERY = {"purpose": "supervision", "case_ref": "JW-RT53-HELD", "fields": ["region_code"],
         "limit": 1}  # fmt: skip
WHY = {"reason": "incident IR-53: civil's database is not answering"}


def test_a_freeze_of_an_entry_whose_source_is_held_answers_and_holds(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    publish_dibao_copy(gw, COPY)
    held = sqlite3.connect(civil_database(gw), isolation_level=None, timeout=1)
    try:
        # the file's lock kept (a WAL file's readers are otherwise let through)
        held.execute("PRAGMA locking_mode = EXCLUSIVE")
        held.execute("BEGIN EXCLUSIVE")
        held.execute("CREATE TABLE IF NOT EXISTS rt53_lock (x INTEGER)")
        began = time.monotonic()
        frozen = gw.client.post(f"/api/v1/datasets/{DIBAO}/freeze", json=WHY,
                                headers=gw.headers("sam"))  # fmt: skip
        took = time.monotonic() - began
        copy_while_held = gw.query("dora", COPY, QUERY)
    finally:
        held.execute("ROLLBACK")
        held.close()  # the connection's end lets the file go
    assert frozen.status_code == 200, frozen.text
    assert took < 25, f"the freeze waited on the source: {took:.1f} s"
    assert "*" in _reads(gw, DIBAO), _reads(gw, DIBAO)
    assert copy_while_held.status_code == 423, copy_while_held.text[:200]
    assert gw.query("dora", COPY, QUERY).status_code == 423
    lifted = gw.client.post(f"/api/v1/datasets/{DIBAO}/unfreeze", json=WHY,
                            headers=gw.headers("root"))  # fmt: skip
    assert lifted.status_code == 200, lifted.text
    assert gw.query("dora", COPY, QUERY).status_code == 200
