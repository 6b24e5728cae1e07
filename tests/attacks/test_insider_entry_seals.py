"""A database insider declassifies a catalog entry, or lifts a freeze, behind the gateway.

Red team 16 (open, high): whoever can write the catalog database changed an entry's
classification with one UPDATE — the dibao roll's ``id_number`` field to L1 with no
personal-information category, the entry's level lowered, its purposes widened, its
region field cleared, a field's mask override changed — or lifted an officer's freeze
(``frozen_at = NULL``), and the next query was governed by it with nothing on the
trail: alice read ID numbers in clear, a refused purpose was served, a frozen entry
answered 200. Entry and field rows now carry a seal (``catalog.entry_seals``,
migration 0019) and the broker refuses an entry whose row or any field row does not
verify: 423 ``entry_unsealed``, ``query.denied`` on the trail. Writing the sealed
values back makes the entry verify again; a steward's routine write through the API
does not re-seal what the insider wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from audit.search import EventFilter, list_events
from catalog.models import Dataset
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-ENTRY"}
ID_QUERY = {"fields": ["id_number", "region_code"], "limit": 1, **CASE}


def _columns(gw: DemoGateway, who: str = "alice", body: dict[str, Any] | None = None) -> Any:
    resp = gw.query(who, DIBAO, body or ID_QUERY)
    assert resp.status_code == 200, resp.text
    return {c["name"]: c for c in orjson.loads(resp.content)["columns"]}


@contextmanager
def _insider(gw: DemoGateway, table: str, where: str, sets: str, **params: Any) -> Iterator[None]:
    """``UPDATE table SET sets WHERE where`` behind the gateway; the row's prior values
    written back afterwards, as they were (so its seal verifies again)."""
    columns = [part.split("=")[0].strip() for part in sets.split(",")]
    with gw.services.engine.connect() as conn:
        before = conn.execute(text(f"SELECT {', '.join(columns)} FROM {table} WHERE {where}"),
                              params).one()  # fmt: skip
    gw.sql(f"UPDATE {table} SET {sets} WHERE {where}", **params)
    try:
        yield
    finally:
        back = ", ".join(f"{c} = :old_{c}" for c in columns)
        olds = {f"old_{c}": orjson.dumps(v).decode() if isinstance(v, list) else v
                for c, v in zip(columns, before, strict=True)}  # fmt: skip
        gw.sql(f"UPDATE {table} SET {back} WHERE {where}", **params, **olds)


def _refused_on_record(gw: DemoGateway, resp: Any) -> None:
    assert resp.status_code == 423, resp.text
    assert resp.json()["code"] == "entry_unsealed", resp.text
    assert b"tk_" not in resp.content
    denied = gw.request_events(gw.last_request_id(), 1)
    assert denied and denied[-1]["type"] == "query.denied", denied
    assert denied[-1]["details"]["code"] == "entry_unsealed"


ID_FIELD = "dataset_id = :d AND name = 'id_number'"


def test_a_field_declassified_behind_the_gateway_governs_nothing(deployment: DemoGateway) -> None:
    assert _columns(deployment)["id_number"]["action"] != "allow"
    with _insider(deployment, "fields", ID_FIELD, "level = 'L1', pi_category = 'none'", d=DIBAO):
        _refused_on_record(deployment, deployment.query("alice", DIBAO, ID_QUERY))
    assert _columns(deployment)["id_number"]["action"] != "allow"


# what the insider changed, and in which row of the dibao roll's entry
CHANGES = {
    "mask_override": ("fields", ID_FIELD, "mask_override = 'hash'"),  # hashed: joinable
    "entry_level": ("datasets", "id = :d", "level = 'L1'"),
    "region_field": ("datasets", "id = :d", "region_field = NULL"),  # policy: 403 before
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_an_entry_changed_behind_the_gateway_governs_nothing(
    deployment: DemoGateway, change: str
) -> None:
    table, where, sets = CHANGES[change]
    with _insider(deployment, table, where, sets, d=DIBAO):
        _refused_on_record(deployment, deployment.query("alice", DIBAO, ID_QUERY))
    assert deployment.query("alice", DIBAO, ID_QUERY).status_code == 200


def test_purposes_widened_behind_the_gateway_serve_nothing(deployment: DemoGateway) -> None:
    curious = {**ID_QUERY, "purpose": "curiosity"}
    assert deployment.query("alice", DIBAO, curious).status_code == 403
    with _insider(deployment, "datasets", "id = :d", "allowed_purposes = :p", d=DIBAO,
                  p='["supervision", "curiosity"]'):  # fmt: skip
        _refused_on_record(deployment, deployment.query("alice", DIBAO, curious))
    assert deployment.query("alice", DIBAO, curious).status_code == 403


def _set_frozen(gw: DemoGateway, frozen: bool) -> None:
    """An officer's freeze or an admin's lift, as ``gateway.stewardship.users.emergency``
    writes it (through the ORM)."""
    with gw.services.sessions() as session:
        dataset = session.get(Dataset, DIBAO)
        assert dataset is not None
        dataset.frozen_at = datetime.now(UTC) if frozen else None
        dataset.frozen_by = "sam" if frozen else None
        dataset.frozen_reason = "insider test" if frozen else None
        session.commit()


def test_a_freeze_lifted_behind_the_gateway_still_refuses(deployment: DemoGateway) -> None:
    _set_frozen(deployment, True)
    try:
        frozen = deployment.query("alice", DIBAO, ID_QUERY)
        assert frozen.status_code == 423 and frozen.json()["code"] == "dataset_frozen"
        with _insider(deployment, "datasets", "id = :d", "frozen_at = NULL", d=DIBAO):
            _refused_on_record(deployment, deployment.query("alice", DIBAO, ID_QUERY))
    finally:
        _set_frozen(deployment, False)
    assert deployment.query("alice", DIBAO, ID_QUERY).status_code == 200


def test_a_stewards_routine_edit_does_not_seal_the_insiders_values(
    deployment: DemoGateway,
) -> None:
    """carl (civil's steward) corrects the entry's title, then the declassified field's
    own description, through the API: neither write seals what the insider wrote."""
    headers = deployment.headers("carl")
    with (
        _insider(deployment, "fields", ID_FIELD, "level = 'L1', pi_category = 'none'", d=DIBAO),
        _insider(deployment, "datasets", "id = :d", "level = 'L1'", d=DIBAO),
    ):
        for patch in ({"title_en": "Dibao roll (checked)"},
                      {"fields": {"id_number": {"description": "checked"}}}):  # fmt: skip
            resp = deployment.client.patch(f"/api/v1/datasets/{DIBAO}", headers=headers,
                                           json=patch)  # fmt: skip
            # saved unsealed, or refused: each save here settles the entry's level (the
            # insider lowered it) or moves its schema version, sealed values that would
            # be on record without governing (red team 53: ``_require_governing``)
            assert resp.status_code in (200, 423), resp.text
            assert resp.status_code == 423 or resp.json()["sealed"] is False
            _refused_on_record(deployment, deployment.query("alice", DIBAO, ID_QUERY))
    assert _columns(deployment)["id_number"]["action"] != "allow"
    assert _listed(deployment)["sealed"] is True


def _listed(gw: DemoGateway) -> Any:
    resp = gw.client.get(f"/api/v1/catalog/{DIBAO}", headers=gw.headers("alice"))
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_the_catalog_says_which_entry_was_changed_behind_the_gateway(
    deployment: DemoGateway,
) -> None:
    assert _listed(deployment)["sealed"] is True
    with _insider(deployment, "fields", ID_FIELD, "pi_category = 'none'", d=DIBAO):
        assert _listed(deployment)["sealed"] is False
        listing = deployment.client.get("/api/v1/catalog", headers=deployment.headers("alice"))
        assert listing.status_code == 200, listing.text
        assert {e["id"]: e["sealed"] for e in listing.json()}[DIBAO] is False
    assert _listed(deployment)["sealed"] is True


def test_entries_from_before_seals_are_adopted_once_on_record(deployment: DemoGateway) -> None:
    """An upgraded deployment (0019): its entries and fields have no seal and
    ``row_seal_adoption`` has no row for them. The next start seals them and names the
    tables on the trail; an insider's edit made after that is not adopted."""
    from gateway.wiring.row_seals import adopt_unsealed_rows, install_row_seals

    gw = deployment
    gw.sql("UPDATE datasets SET seal = NULL")
    gw.sql("UPDATE fields SET seal = NULL")
    gw.sql("DELETE FROM row_seal_adoption WHERE id = 4")
    _refused_on_record(gw, gw.query("alice", DIBAO, ID_QUERY))
    seals = install_row_seals(gw.settings.resolved_database_url, gw.settings.home)
    counts = adopt_unsealed_rows(gw.services.engine, seals, gw.services.audit)
    assert set(counts) == {"datasets", "fields"} and counts["fields"] > counts["datasets"] >= 1
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="catalog.rows_sealed"), limit=50)  # fmt: skip
    assert [e["details"] for e in page["items"]][-1] == counts
    assert _columns(gw)["id_number"]["action"] != "allow"
    with _insider(gw, "fields", ID_FIELD, "level = 'L1', pi_category = 'none', seal = NULL",
                  d=DIBAO):  # fmt: skip
        assert adopt_unsealed_rows(gw.services.engine, seals, gw.services.audit) == {}
        _refused_on_record(gw, gw.query("alice", DIBAO, ID_QUERY))
    assert _columns(gw)["id_number"]["action"] != "allow"
