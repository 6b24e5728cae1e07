"""Red team 21: a source row's settings garbled by the database insider.

The catalog's ``sealed`` includes the entry's source since b4f5da3 (it loads the source
row). On the embedded default a ``sources.settings`` that is not JSON text made every
analyst's ``GET /api/v1/catalog`` a 500 (the JSON decode raised while ``sealed`` was
read), for every department's entries; on PostgreSQL a settings value that is JSON but
not an object (a string) made every query of the entries over it a 500 (``dict()`` of a
string) instead of the refusal a source changed behind the gateway gets. Either way: the
entry is listed ``sealed: false`` and refused, 423 ``source_unsealed``, on record.
"""

from __future__ import annotations

from sqlalchemy import text

from tests.attacks.test_insider_entry_seals import DIBAO, ID_QUERY
from tests.gateway.demo_app import DemoGateway


def test_a_garbled_source_is_refused_not_a_500(deployment: DemoGateway) -> None:
    gw = deployment
    with gw.services.engine.connect() as conn:
        source_id, before = conn.execute(text(
            "SELECT s.id, CAST(s.settings AS TEXT) FROM sources s JOIN datasets d "
            "ON d.source_id = s.id WHERE d.id = :d"), {"d": DIBAO}).one()  # fmt: skip
    garbled = "{not json" if gw.services.engine.dialect.name == "sqlite" else '"not an object"'
    gw.sql("UPDATE sources SET settings = :v WHERE id = :s", v=garbled, s=source_id)
    try:
        listed = gw.client.get("/api/v1/catalog", headers=gw.headers("alice"))
        assert listed.status_code == 200, listed.text
        by_id = {e["id"]: e for e in listed.json()}
        assert by_id[DIBAO]["sealed"] is False
        assert any(e["sealed"] for e in by_id.values())  # other sources' entries stay sealed
        refused = gw.query("alice", DIBAO, ID_QUERY)
        assert (refused.status_code, refused.json()["code"]) == (423, "source_unsealed")
    finally:
        gw.sql("UPDATE sources SET settings = :v WHERE id = :s", v=before, s=source_id)
    assert gw.query("alice", DIBAO, ID_QUERY).status_code == 200
