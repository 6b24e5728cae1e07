"""Red team 21: an entry's list columns garbled by the database insider.

``datasets.allowed_purposes`` (sealed) or ``tags`` (not) set to JSON that is no list (a
string: one UPDATE, on PostgreSQL as on SQLite) made every analyst's
``GET /api/v1/catalog`` a 500, for every department's entries (``DatasetOut`` refused
the value while the listing was built). The listing now shows such a column empty; the
entry with the garbled purposes is ``sealed: false`` and refused, 423 ``entry_unsealed``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.attacks.test_insider_entry_seals import DIBAO, ID_QUERY
from tests.gateway.demo_app import DemoGateway


@pytest.mark.parametrize("column", ["allowed_purposes", "tags"])
def test_a_garbled_list_column_is_no_500(deployment: DemoGateway, column: str) -> None:
    gw = deployment
    with gw.services.engine.connect() as conn:
        before = conn.execute(text(f"SELECT CAST({column} AS TEXT) FROM datasets WHERE id = :d"),
                              {"d": DIBAO}).scalar_one()  # fmt: skip
    gw.sql(f"UPDATE datasets SET {column} = :v WHERE id = :d", v='"supervision"', d=DIBAO)
    try:
        listed = gw.client.get("/api/v1/catalog", headers=gw.headers("alice"))
        assert listed.status_code == 200, listed.text
        entry = {e["id"]: e for e in listed.json()}[DIBAO]
        assert entry[column] == []
        shown = gw.client.get(f"/api/v1/catalog/{DIBAO}", headers=gw.headers("alice"))
        assert shown.status_code == 200, shown.text
        if column == "allowed_purposes":  # sealed: the entry is refused
            assert entry["sealed"] is False
            refused = gw.query("alice", DIBAO, ID_QUERY)
            assert (refused.status_code, refused.json()["code"]) == (423, "entry_unsealed")
    finally:
        gw.sql(f"UPDATE datasets SET {column} = :v WHERE id = :d", v=before, d=DIBAO)
    assert gw.query("alice", DIBAO, ID_QUERY).status_code == 200
