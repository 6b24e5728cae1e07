"""Red team 47, as a database insider with the catalog owner's rights: a freeze deleted.

Rule (red team 10, ``broker._refuse_frozen_object``): an officer's freeze stops the
data, whichever entry reads it — a copy published before the freeze included — until an
admin who did not impose it lifts it (``unfreeze``, on record).

Attack: the freeze lives in the frozen entry's row (``datasets.frozen_at``, under the
row's seal): an insider cannot lift it by an edit, which unseals the entry. But a row
deleted leaves nothing to verify. civil's steward had published a second entry over
the dibao roll (another title, for another team); sam freezes the roll; the insider
``DELETE``s the frozen entry's row (its fields and the requests naming it with it). No
seal breaks, nothing is on the trail, and the copy serves the frozen data again: the
broker's frozen set is read from the rows that are there.

Expected: the copy is still refused (the trail names the freeze, not lifted), or the
deployment refuses until the trail and the catalog agree. Left by red team 47 (xfail)
as a design decision, closed by red team 48's fix of its sibling
(``gateway.enforcement.sources.freezes_on_record``): the frozen set is the rows' and the
trail's word (``dataset.frozen`` not followed by ``dataset.unfrozen``), and a frozen
entry gone from the catalog holds every entry of the department its freeze recorded. On
the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import sqlite3

import psycopg

from tests.attacks.dibao_copy import publish_dibao_copy
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
COPY = "civil.dibao_rt47_copy"
QUERY = {"purpose": "supervision", "case_ref": "JW-RT47-FROZEN", "fields": ["region_code"],
         "limit": 1}  # fmt: skip
WHY = {"reason": "incident IR-47: the roll is being pulled"}


def _delete_behind(gw: DemoGateway, entry: str) -> None:
    """The entry's row gone, with what names it (foreign keys not checked, as the owner
    of the database may have them: SQLite's default, PostgreSQL's replica role)."""
    statements = [f"DELETE FROM access_requests WHERE dataset_id = '{entry}'",
                  f"DELETE FROM fields WHERE dataset_id = '{entry}'",
                  f"DELETE FROM datasets WHERE id = '{entry}'"]  # fmt: skip
    url = gw.settings.resolved_database_url
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            for sql in statements:
                conn.execute(sql)
        finally:
            conn.close()
        return
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as pg:
        pg.execute("SET session_replication_role = replica")
        for sql in statements:
            pg.execute(sql)
        pg.execute("SET session_replication_role = DEFAULT")
        # the replica role fired no trigger: the next change anyone makes moves the
        # generation; the insider moves it now
        pg.execute("UPDATE catalog_generation SET value = value + 1 WHERE id = 1")


def test_a_deleted_frozen_entry_still_freezes_its_copy(deployment: DemoGateway) -> None:
    gw = deployment
    publish_dibao_copy(gw, COPY)
    assert gw.query("dora", COPY, QUERY).status_code == 200
    frozen = gw.client.post(f"/api/v1/datasets/{DIBAO}/freeze", json=WHY,
                            headers=gw.headers("sam"))  # fmt: skip
    assert frozen.status_code == 200, frozen.text
    assert gw.query("dora", COPY, QUERY).status_code == 423
    _delete_behind(gw, DIBAO)
    again = gw.query("dora", COPY, QUERY)
    assert again.status_code != 200, again.text[:300]
