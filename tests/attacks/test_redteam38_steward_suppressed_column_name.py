"""Red team 38, a steward's column named as another of the gateway's own columns.

Stop 33 reserved the names starting with ``__`` (``catalog.drift.RESERVED_PREFIX``) for
the gateway's own columns, after a field named ``__subject_token`` collided with a
comparison side's (red teams 36, 37). An aggregate answer carries a column of the
gateway's own too, ``_suppressed`` (``aggregate.SUPPRESSED``: the aliases withheld in
each group), which that prefix does not cover. Civil's steward publishes a table with
a ``_suppressed`` column (a department's own flag of suppressed records, in clear);
an analyst groups on it.

Before: a 500 (``ArrowInvalid``: two sort keys ``_suppressed`` in the answer). Expected:
a 400 naming the field (a group field may not take the answer's own column's name),
never a 500 from two columns of one name. On the embedded default and PostgreSQL.

Since stop 34 the catalog takes no new field of that name either (``catalog.reserved_names``,
one list of the gateway's own columns): the table is drafted here as before that rule, as
an entry published earlier would be, and a draft now is refused (400 naming it).
"""

from __future__ import annotations

import sqlite3

import pytest

from catalog import drift
from tests.gateway.demo_app import DemoGateway

ENTRY = "civil.rt38_flags"
CASE = {"purpose": "supervision", "case_ref": "JW-RT38-SUPP"}


def _publish(gw: DemoGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    db = sqlite3.connect(gw.settings.demo_data_dir / "civil.db")
    try:
        db.execute("CREATE TABLE IF NOT EXISTS rt38_flags (region_code TEXT, _suppressed TEXT)")
        db.execute("DELETE FROM rt38_flags")
        db.executemany("INSERT INTO rt38_flags VALUES (?, ?)",
                       [("430121", "yes" if i % 3 else "no") for i in range(60)])  # fmt: skip
        db.commit()
    finally:
        db.close()
    h = gw.headers("carl")
    assert gw.client.post("/api/v1/sources/civil-db/introspect", headers=h).status_code == 200
    draft = {"source_id": "civil-db", "object_name": "rt38_flags", "dataset_id": ENTRY,
             "title_en": "Flags", "allowed_purposes": ["supervision"]}  # fmt: skip
    refused = gw.client.post("/api/v1/datasets", headers=h, json=draft)
    assert refused.status_code == 400 and "_suppressed" in refused.json()["message"]
    with monkeypatch.context() as before_the_rule:
        before_the_rule.setattr(drift, "is_reserved", lambda name: False)
        resp = gw.client.post("/api/v1/datasets", headers=h, json=draft)
    assert resp.status_code == 201, resp.text[:300]
    clear = {"level": "L1", "pi_category": "none"}
    fields = {"region_code": clear, "_suppressed": clear}
    resp = gw.client.patch(f"/api/v1/datasets/{ENTRY}", headers=h,
                           json={"region_field": "region_code", "fields": fields})  # fmt: skip
    assert resp.status_code == 200, resp.text[:300]
    resp = gw.client.post(f"/api/v1/datasets/{ENTRY}/publish", headers=h)
    assert resp.status_code == 200, resp.text[:300]


def test_a_group_field_named_like_the_answers_own_column_is_no_500(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    _publish(gw, monkeypatch)
    body = {**CASE, "group_by": ["_suppressed"], "aggregates": [{"fn": "count", "as": "n"}]}
    resp = gw.query("dora", ENTRY, body)
    assert resp.status_code == 400, resp.text[:300]
    assert "_suppressed" in resp.json()["message"]
