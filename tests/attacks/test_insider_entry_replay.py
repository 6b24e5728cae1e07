"""A database insider writes an entry's or a field's row back as it was before a change
made through the gateway, seal and all (a replay), or deletes or inserts a field row.

THREAT_MODEL's open items (1) and (2) after the entry seals (0019): a seal says a
gateway wrote the row's values, not that they are the current ones, and the entry's
seal did not name its fields. So the insider kept the dibao roll's row from before an
officer's freeze and wrote it back (the freeze lifted, 200), kept a field's row from
before its steward raised its level and wrote it back (the field lowered again, 200),
deleted a field row (it silently left the entry) or inserted one the steward's refresh
had deleted with its seal (it came back). Each answered 200 before the fix. Now every
change made through the gateway binds the entry's new state on the trail
(``catalog.row_bound``, ``catalog.row_bindings``) and the entry's seal covers each
field's name and seal (``catalog.entry_seals``, 0022), so the broker refuses the entry:
423 ``entry_unsealed``, ``query.denied`` on the trail. Changes through the gateway (an
officer's freeze and its lift, a steward's edit, a publication, a refresh) keep the
entry served.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from audit.search import EventFilter, list_events
from catalog.models import Dataset
from tests.attacks.test_insider_entry_seals import DIBAO, ID_QUERY, _refused_on_record
from tests.attacks.test_insider_row_replay import _rows, _write_back
from tests.gateway.demo_app import DemoGateway

ENTRY_ROW = "SELECT * FROM datasets WHERE id = :d"
FIELD_ROW = "SELECT * FROM fields WHERE dataset_id = :d AND name = :n"
REASON = {"reason": "entry replay test"}


def _served(gw: DemoGateway, dataset: str = DIBAO, body: dict[str, Any] = ID_QUERY) -> None:
    resp = gw.query("alice", dataset, body)
    assert resp.status_code == 200, resp.text


def _update_back(gw: DemoGateway, table: str, row: dict[str, Any]) -> None:
    """The saved row's values written over the current row (same id), seal included."""
    sets = ", ".join(f"{name} = :{name}" for name in row if name != "id")
    gw.sql(f"UPDATE {table} SET {sets} WHERE id = :id", **row)


def _emergency(gw: DemoGateway, who: str, action: str, dataset: str = DIBAO) -> None:
    resp = gw.client.post(f"/api/v1/datasets/{dataset}/{action}", headers=gw.headers(who),
                          json=REASON)  # fmt: skip
    assert resp.status_code == 200, resp.text


def _patch(gw: DemoGateway, body: dict[str, Any], dataset: str = DIBAO) -> dict[str, Any]:
    resp = gw.client.patch(f"/api/v1/datasets/{dataset}", headers=gw.headers("carl"), json=body)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_the_row_from_before_a_freeze_written_back_still_refuses(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    _served(gw)
    saved = _rows(gw, ENTRY_ROW, d=DIBAO)[0]
    _emergency(gw, "sam", "freeze")
    frozen = gw.query("alice", DIBAO, ID_QUERY)
    assert frozen.status_code == 423 and frozen.json()["code"] == "dataset_frozen"
    frozen_row = _rows(gw, ENTRY_ROW, d=DIBAO)[0]
    _update_back(gw, "datasets", saved)
    _refused_on_record(gw, gw.query("alice", DIBAO, ID_QUERY))
    # the frozen row back, an admin's lift through the gateway serves the entry again
    _update_back(gw, "datasets", frozen_row)
    _emergency(gw, "root", "unfreeze")
    _served(gw)


def test_a_field_row_from_before_a_stewards_raise_written_back_is_refused(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    saved = _rows(gw, FIELD_ROW, d=DIBAO, n="household_size")[0]
    assert saved["level"] == "L2"
    _patch(gw, {"fields": {"household_size": {"level": "L3"}}})
    _served(gw)
    raised = _rows(gw, FIELD_ROW, d=DIBAO, n="household_size")[0]
    _update_back(gw, "fields", saved)
    _refused_on_record(gw, gw.query("alice", DIBAO, ID_QUERY))
    assert _listed(gw)["sealed"] is False
    # the raised row back, the steward's own edit through the gateway keeps it served
    _update_back(gw, "fields", raised)
    _served(gw)
    assert _patch(gw, {"fields": {"household_size": {"level": "L2"}}})["sealed"] is True
    _served(gw)


def _listed(gw: DemoGateway) -> Any:
    resp = gw.client.get(f"/api/v1/catalog/{DIBAO}", headers=gw.headers("alice"))
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_field_row_deleted_behind_the_gateway_is_refused(deployment: DemoGateway) -> None:
    gw = deployment
    saved = _rows(gw, FIELD_ROW, d=DIBAO, n="last_paid")[0]
    gw.sql("DELETE FROM fields WHERE id = :id", id=saved["id"])
    try:
        _refused_on_record(gw, gw.query("alice", DIBAO, ID_QUERY))
        assert _listed(gw)["sealed"] is False
    finally:
        gw.sql(f"INSERT INTO fields ({', '.join(saved)}) "
               f"VALUES ({', '.join(':' + n for n in saved)})", **saved)  # fmt: skip
    _served(gw)


def test_a_change_bound_but_never_committed_leaves_the_entry_served(
    deployment: DemoGateway,
) -> None:
    """A steward's change is bound before the route commits it; a transaction that
    ends without the commit (a failed commit, an error after the binding) binds the
    entry back to its loaded state, which is still the row's: the entry stays served."""
    from gateway.stewardship.row_trail import bind_until_commit

    gw = deployment
    with gw.services.sessions() as session:
        dataset = session.get(Dataset, DIBAO)
        assert dataset is not None
        next(f for f in dataset.fields if f.name == "start_date").level = "L3"
        dataset.schema_version += 1
        bind_until_commit(gw.services.audit, session)
        session.rollback()
    _served(gw)


# ------------------------------------------------------ an entry of carl's, refreshed

_PROBES = itertools.count()
PROBE_QUERY = {"fields": ["region_code"], "limit": 1, "purpose": "supervision",
               "case_ref": "JW-2026-REPLAY"}  # fmt: skip


def _civil_db(gw: DemoGateway) -> str:
    rows = _rows(gw, "SELECT settings FROM sources WHERE id = 'civil-db'")
    database = make_url(orjson.loads(rows[0]["settings"])["url"]).database
    assert database
    return database


def _source_sql(gw: DemoGateway, *statements: str) -> None:
    with sqlite3.connect(_civil_db(gw)) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture
def probe(deployment: DemoGateway) -> Iterator[tuple[DemoGateway, str]]:
    """carl's published entry (its id) over a table of civil's (region code, amount,
    phone)."""
    gw, table = deployment, f"replay_probe_{next(_PROBES)}"
    entry = f"civil.{table}"
    _source_sql(gw, f"DROP TABLE IF EXISTS {table}",
                f"CREATE TABLE {table} AS SELECT region_code, monthly_amount, phone "
                "FROM dibao_recipients LIMIT 20")  # fmt: skip
    headers = gw.headers("carl")
    draft = gw.client.post("/api/v1/datasets", headers=headers, json={
        "source_id": "civil-db", "object_name": table, "dataset_id": entry,
        "title_en": "replay probe", "allowed_purposes": ["supervision"]})  # fmt: skip
    assert draft.status_code == 201, draft.text
    _patch(gw, {"region_field": "region_code"}, entry)
    published = gw.client.post(f"/api/v1/datasets/{entry}/publish", headers=headers)
    assert published.status_code == 200, published.text
    try:
        yield gw, entry
    finally:
        _emergency(gw, "sam", "freeze", entry)  # out of every later test's way


def test_a_field_row_the_refresh_deleted_inserted_back_is_refused(
    probe: tuple[DemoGateway, str],
) -> None:
    gw, entry = probe
    _served(gw, entry, PROBE_QUERY)
    saved = _rows(gw, FIELD_ROW, d=entry, n="phone")[0]
    _source_sql(gw, f"ALTER TABLE {entry.split('.')[1]} DROP COLUMN phone")
    resp = gw.client.post(f"/api/v1/datasets/{entry}/refresh", headers=gw.headers("carl"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["removed"] == ["phone"]
    _served(gw, entry, PROBE_QUERY)  # the refresh through the gateway keeps it served
    _write_back(gw, "fields", saved, "id")
    _refused_on_record(gw, gw.query("alice", entry, PROBE_QUERY))
    gw.sql("DELETE FROM fields WHERE id = :id", id=saved["id"])
    _served(gw, entry, PROBE_QUERY)


def test_a_published_entry_edited_and_refreshed_through_the_gateway_is_served(
    probe: tuple[DemoGateway, str],
) -> None:
    """Publication, an edit of the entry and of a field, a refresh adding a column and a
    freeze lifted: each binds the entry's new state, and the entry stays served."""
    gw, entry = probe
    _served(gw, entry, PROBE_QUERY)
    _patch(gw, {"title_en": "replay probe (checked)", "allowed_purposes": ["supervision",
                "audit"], "fields": {"monthly_amount": {"level": "L3"}}}, entry)  # fmt: skip
    _served(gw, entry, PROBE_QUERY)
    _source_sql(gw, f"ALTER TABLE {entry.split('.')[1]} ADD COLUMN note TEXT")
    resp = gw.client.post(f"/api/v1/datasets/{entry}/refresh", headers=gw.headers("carl"))
    assert resp.status_code == 200 and resp.json()["added"] == ["note"], resp.text
    _served(gw, entry, PROBE_QUERY)
    _emergency(gw, "sam", "freeze", entry)
    _emergency(gw, "root", "unfreeze", entry)
    _served(gw, entry, PROBE_QUERY)
    assert _patch(gw, {"tags": ["probe"]}, entry)["sealed"] is True


# ------------------------------------------------------ upgrade

FINDINGS = "audit.audit_findings"


def test_entries_sealed_under_0019_are_sealed_again_once_on_record(
    deployment: DemoGateway,
) -> None:
    """An upgraded deployment (0022): its entries carry 0019's seals, which name no
    field, and ``row_seal_adoption`` has no row 7. The next start seals again each entry
    whose 0019 seal verifies, over its fields as they are, naming the count on the
    trail; an entry changed behind the gateway before it stays refused."""
    from catalog.entry_seals import DATASETS, legacy_dataset_values
    from catalog.row_seals import seals_for
    from gateway.wiring.row_seals import adopt_unsealed_rows

    gw = deployment
    seals = seals_for(gw.services.engine)
    with gw.services.engine.connect() as conn:
        rows = conn.execute(select(Dataset.__table__)).all()
    for row in rows:
        gw.sql("UPDATE datasets SET seal = :s WHERE id = :i", i=row.id,
               s=seals.seal(DATASETS, legacy_dataset_values(row)))  # fmt: skip
    gw.sql("DELETE FROM row_seal_adoption WHERE id = 7")
    _refused_on_record(gw, gw.query("alice", DIBAO, ID_QUERY))
    findings = next(r for r in rows if r.id == FINDINGS)
    gw.sql("UPDATE datasets SET level = 'L1' WHERE id = :i", i=FINDINGS)  # before the start
    try:
        counts = adopt_unsealed_rows(gw.services.engine, seals, gw.services.audit)
        assert counts == {"entry_field_sets": len(rows) - 1}
        page = list_events(store=gw.services.audit.store,
                           filters=EventFilter(type="catalog.rows_sealed"), limit=50)  # fmt: skip
        assert [e["details"] for e in page["items"]][-1] == counts
        _served(gw)
        assert _entry_sealed(gw, FINDINGS) is False
        assert adopt_unsealed_rows(gw.services.engine, seals, gw.services.audit) == {}
    finally:
        gw.sql("UPDATE datasets SET level = :l, seal = :s WHERE id = :i", l=findings.level,
               s=findings.seal, i=FINDINGS)  # fmt: skip
    assert _entry_sealed(gw, FINDINGS) is True


def _entry_sealed(gw: DemoGateway, dataset: str) -> bool:
    resp = gw.client.get(f"/api/v1/catalog/{dataset}", headers=gw.headers("sam"))
    assert resp.status_code == 200, resp.text
    return bool(resp.json()["sealed"])
