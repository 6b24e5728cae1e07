"""A database insider re-points a department's source, or rewrites its ownership claims,
behind the gateway.

THREAT_MODEL's open item (3) of "Catalog entries are sealed, sources are not": an
entry's row is sealed and names its source, but the source's row — which database or
file it reads (``settings``), the server its connections reached (``server_identity``)
and when it was registered, the ownership claims other departments' connections are
checked against — was not. Whoever can write the catalog database (not the keys)
could re-point civil's source at finance's database (and finance's at civil's, so that
no other department's row names finance's system any more): every civil entry then
read from there, and carl (civil's steward) drafted an entry over finance's payroll on
civil's source (201, finance's columns listed under civil's name) — the ownership
checks compare with the other rows, which the insider wrote too. Sources now carry a
row seal (``catalog.source_seals``, migration 0021); a query of an entry whose source
does not verify answers 423 ``source_unsealed`` (``query.denied`` on the trail), and
every connect is refused while any source's row does not verify (its address and
claim decide the ownership checks).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, select, update

from catalog.models import Source
from tests.gateway.demo_app import DemoGateway

_SRC: Table = Source.__table__  # type: ignore[assignment]
CASE = {"purpose": "supervision", "case_ref": "JW-INSIDER-3", "limit": 1}
DIBAO = ("civil.dibao_recipients", {"fields": ["region_code"], **CASE})
PAYROLL = ("finance.payroll", {"fields": ["region_code"], **CASE})
COMPARISON = {"left": {"dataset": "finance.payroll", "key": "id_number"},
              "right": {"dataset": "civil.dibao_recipients", "key": "id_number"},
              "purpose": "supervision", "case_ref": "JW-INSIDER-3"}  # fmt: skip


@contextmanager
def _changed(gw: DemoGateway, source_id: str, **values: Any) -> Iterator[None]:
    """``values`` written into a source's row behind the gateway (a Core write: no hook
    sees it), then its own written back."""
    where = _SRC.c.id == source_id
    with gw.services.engine.begin() as conn:
        before = conn.execute(select(*(_SRC.c[n] for n in values)).where(where)).one()
        conn.execute(update(_SRC).where(where).values(**values))
    try:
        yield
    finally:
        with gw.services.engine.begin() as conn:
            conn.execute(update(_SRC).where(where).values(dict(zip(values, before, strict=True))))


def _settings(gw: DemoGateway, source_id: str) -> dict[str, Any]:
    with gw.services.engine.connect() as conn:
        query = select(_SRC.c.settings).where(_SRC.c.id == source_id)
        found: dict[str, Any] = conn.execute(query).scalar_one()
    return found


@contextmanager
def _swapped(gw: DemoGateway) -> Iterator[None]:
    """civil's source pointed at finance's database and finance's at civil's: each
    system is then named only by the other department, so the registration's address
    check (a system another department registered first) finds nothing to refuse."""
    civil, finance = _settings(gw, "civil-db"), _settings(gw, "finance-db")
    with _changed(gw, "finance-db", settings=civil), _changed(gw, "civil-db", settings=finance):
        yield


def _refused_on_record(gw: DemoGateway, resp: Any) -> None:
    assert resp.status_code == 423, resp.text
    assert resp.json()["code"] == "source_unsealed", resp.text
    denied = gw.request_events(gw.last_request_id("query.*"), 1)
    assert denied and denied[-1]["type"] == "query.denied", denied
    assert denied[-1]["details"]["code"] == "source_unsealed"


def test_a_source_re_pointed_behind_the_gateway_reads_nothing(deployment: DemoGateway) -> None:
    gw = deployment
    assert gw.query("alice", *DIBAO).status_code == 200
    with _swapped(gw):
        _refused_on_record(gw, gw.query("alice", *DIBAO))
        compared = gw.compare("dora", COMPARISON)
        assert compared.status_code == 423, compared.text
        assert compared.json()["code"] == "source_unsealed", compared.text
    assert gw.query("alice", *DIBAO).status_code == 200
    assert gw.compare("dora", COMPARISON).status_code == 200


def test_a_steward_drafts_nothing_over_a_re_pointed_source(deployment: DemoGateway) -> None:
    """carl drafts an entry over ``payroll`` on civil's source, which the insider pointed
    at finance's database: finance's table under civil's name."""
    gw = deployment
    body = {"source_id": "civil-db", "object_name": "payroll", "dataset_id": "civil.payroll",
            "title_en": "payroll?", "allowed_purposes": ["supervision"]}  # fmt: skip
    with _swapped(gw):
        resp = gw.client.post("/api/v1/datasets", headers=gw.headers("carl"), json=body)
        assert resp.status_code == 423, resp.text
        assert resp.json()["code"] == "source_unsealed", resp.text


def test_an_ownership_claim_rewritten_behind_the_gateway_is_refused(
    deployment: DemoGateway,
) -> None:
    """finance's claim (the server its connections reached) rewritten: finance's entries
    read nothing, and no connect anywhere is checked against the rewritten claims."""
    gw = deployment
    assert gw.query("alice", *PAYROLL).status_code == 200
    with _changed(gw, "finance-db", server_identity="7000000000000000000/other"):
        _refused_on_record(gw, gw.query("alice", *PAYROLL))
        listed = gw.client.post("/api/v1/sources/civil-db/introspect",
                                headers=gw.headers("carl"))  # fmt: skip
        assert listed.status_code == 423, listed.text
    assert gw.query("alice", *PAYROLL).status_code == 200


def test_a_stewards_routine_edit_does_not_seal_the_insiders_settings(
    deployment: DemoGateway,
) -> None:
    """carl renames civil's source through the API while the insider's settings are in
    it: the save does not seal what the insider wrote."""
    gw = deployment
    with _swapped(gw):
        resp = gw.client.patch("/api/v1/sources/civil-db", headers=gw.headers("carl"),
                               json={"display_name": "civil (renamed)"})  # fmt: skip
        assert resp.status_code == 200, resp.text
        assert resp.json()["sealed"] is False
        _refused_on_record(gw, gw.query("alice", *DIBAO))
    assert gw.query("alice", *DIBAO).status_code == 200
    listed = gw.client.get("/api/v1/sources/civil-db", headers=gw.headers("carl"))
    assert listed.status_code == 200 and listed.json()["sealed"] is True, listed.text


def test_sources_from_before_seals_are_adopted_once_on_record(deployment: DemoGateway) -> None:
    """An upgraded deployment (0021): its sources have no seal and ``row_seal_adoption``
    has no row for them. The next start seals them and names the table on the trail; a
    source an insider re-points after that is not adopted."""
    from gateway.wiring.row_seals import adopt_unsealed_rows, install_row_seals

    gw = deployment
    gw.sql("UPDATE sources SET seal = NULL")
    gw.sql("DELETE FROM row_seal_adoption WHERE id = 6")
    _refused_on_record(gw, gw.query("alice", *DIBAO))
    seals = install_row_seals(gw.settings.resolved_database_url, gw.settings.home)
    counts = adopt_unsealed_rows(gw.services.engine, seals, gw.services.audit)
    assert set(counts) == {"sources"} and counts["sources"] >= 3, counts
    assert gw.query("alice", *DIBAO).status_code == 200
    with _changed(gw, "civil-db", seal=None, settings=_settings(gw, "finance-db")):
        assert adopt_unsealed_rows(gw.services.engine, seals, gw.services.audit) == {}
        _refused_on_record(gw, gw.query("alice", *DIBAO))
    assert gw.query("alice", *DIBAO).status_code == 200


def test_no_source_is_registered_against_rewritten_claims(deployment: DemoGateway) -> None:
    """While finance's row does not verify, fiona's registration of a new source (its
    checks read every other department's row) is refused too."""
    gw = deployment
    body = {"id": "finance-copy", "department": "finance", "kind": "sqlite",
            "display_name": "copy", "settings": _settings(gw, "finance-db")}  # fmt: skip
    with _changed(gw, "civil-db", server_identity="7000000000000000000/other"):
        resp = gw.client.post("/api/v1/sources", json=body, headers=gw.headers("fiona"))
        assert resp.status_code == 423, resp.text
        assert resp.json()["code"] == "source_unsealed", resp.text


def test_the_catalog_says_an_entry_over_a_re_pointed_source_serves_nothing(
    deployment: DemoGateway,
) -> None:
    """The analyst's catalog said ``sealed: true`` for the dibao roll while its source
    was re-pointed, and the query then answered 423 ``source_unsealed``."""
    gw, h = deployment, deployment.headers("alice")
    entry = "civil.dibao_recipients"
    assert gw.client.get(f"/api/v1/catalog/{entry}", headers=h).json()["sealed"] is True
    with _swapped(gw):
        shown = gw.client.get(f"/api/v1/catalog/{entry}", headers=h)
        assert shown.status_code == 200 and shown.json()["sealed"] is False, shown.text
        listed = gw.client.get("/api/v1/catalog", headers=h).json()
        assert [d["sealed"] for d in listed if d["id"] == entry] == [False]
    assert gw.client.get(f"/api/v1/catalog/{entry}", headers=h).json()["sealed"] is True
