"""``DELETE /api/v1/sources/{id}`` (issue 16): a steward of the source's department
deregisters it; its entries are unpublished first (queries are then 404), its stored
secret is deleted, the trail keeps everything and records the action. Attacked through
the HTTP API by another department's steward and an analyst first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from audit.search import EventFilter, list_events
from catalog.models import Source
from gateway.enforcement.sources.connect import secret_aad
from tests.conftest import drop_pg_database
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.migrated import create_migrated_pg_database

# the tests follow one deregistration step by step: one deployment, one worker
pytestmark = pytest.mark.xdist_group("source-delete")

SOURCE = "civil-db"
DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-001"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gw(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoGateway]:
    """A gateway of this module's own (its civil source is deregistered here), with the
    catalog on SQLite and on PostgreSQL."""
    home = Path(tmp_path_factory.mktemp(f"source-delete-{request.param}"))
    if request.param == "sqlite":
        with demo_gateway(home) as gateway:
            yield gateway
        return
    name, url = create_migrated_pg_database("sluice_source_delete")
    try:
        with demo_gateway(home, database_url=url) as gateway:
            yield gateway
    finally:
        drop_pg_database(name)


def _events(gw: DemoGateway, type_: str) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store, filters=EventFilter(type=type_), limit=50)
    return list(page["items"])


def _delete(gw: DemoGateway, who: str, source: str = SOURCE) -> object:
    return gw.client.delete(f"/api/v1/sources/{source}", headers=gw.headers(who))


@pytest.mark.parametrize("attacker", ["fiona", "arthur", "alice"])
def test_only_its_own_stewards_may_deregister(gw: DemoGateway, attacker: str) -> None:
    """Another department's steward (fiona: finance) and analysts are refused; the source
    and its entries stay as they were."""
    resp = _delete(gw, attacker)
    assert resp.status_code == 403, resp.text  # type: ignore[attr-defined]
    assert resp.json()["code"] == "forbidden"  # type: ignore[attr-defined]
    assert gw.query("alice", DIBAO, {"limit": 1, **CASE}).status_code == 200
    assert gw.client.get(f"/api/v1/sources/{SOURCE}", headers=gw.headers("carl")).status_code == 200


def test_unknown_source_is_404(gw: DemoGateway) -> None:
    resp = _delete(gw, "carl", "no-such-source")
    assert resp.status_code == 404  # type: ignore[attr-defined]
    assert resp.json()["code"] == "not_found"  # type: ignore[attr-defined]


def test_a_steward_of_its_department_deregisters_it(gw: DemoGateway) -> None:
    # give the source a stored secret, sealed as a registration seals one
    with gw.services.sessions() as session:
        ciphertext, key_id = gw.services.keyring.encrypt("s3cret-pass", aad=secret_aad(SOURCE),
                                                         session=session)  # fmt: skip
        source = session.get(Source, SOURCE)
        assert source is not None
        source.secret_ciphertext, source.secret_key_id = ciphertext, key_id
        session.commit()
    assert gw.query("alice", DIBAO, {"limit": 1, **CASE}).status_code == 200
    pool = gw.client.app.state.broker.sources  # type: ignore[attr-defined]
    assert SOURCE in pool._open  # the query opened it

    resp = _delete(gw, "carl")
    assert SOURCE not in pool._open  # its credentials left memory too
    assert resp.status_code == 200, resp.text  # type: ignore[attr-defined]
    body = resp.json()  # type: ignore[attr-defined]
    assert body["id"] == SOURCE and DIBAO in body["unpublished"]
    assert "s3cret" not in resp.text  # type: ignore[attr-defined]


def test_its_entries_are_unpublished_and_its_id_retired(gw: DemoGateway) -> None:
    """(After the deregistration above.)"""
    # entries are unpublished: a query is "not found", the catalog no longer lists them
    assert gw.query("alice", DIBAO, {"limit": 1, **CASE}).status_code == 404
    listed = gw.client.get("/api/v1/catalog", headers=gw.headers("alice")).json()
    assert DIBAO not in {d["id"] for d in listed}
    assert gw.client.get(f"/api/v1/catalog/{DIBAO}", headers=gw.headers("alice")).status_code == 404
    # the source is gone from the API; a republish or a new source on its id is refused
    assert gw.client.get(f"/api/v1/sources/{SOURCE}", headers=gw.headers("carl")).status_code == 404
    assert SOURCE not in {s["id"] for s in gw.client.get(
        "/api/v1/sources", headers=gw.headers("carl")).json()}  # fmt: skip
    assert _delete(gw, "carl").status_code == 404  # type: ignore[attr-defined]
    republish = gw.client.post(f"/api/v1/datasets/{DIBAO}/publish", headers=gw.headers("carl"))
    assert republish.status_code in (404, 409), republish.text


def test_its_secret_is_deleted_and_the_trail_keeps_everything(gw: DemoGateway) -> None:
    """(After the deregistration above.)"""
    # the stored secret is deleted; the row is a tombstone naming who and when
    with gw.services.engine.connect() as conn:
        row = conn.execute(text("SELECT settings, secret_ciphertext, secret_key_id, redacted "
                                "FROM sources WHERE id = :id"), {"id": SOURCE}).one()  # fmt: skip
    assert row.secret_ciphertext is None and row.secret_key_id is None
    assert "s3cret" not in str(row.settings) and "carl" in str(row.settings)
    # the action is on record, once, with what it unpublished; nothing was lost
    events = _events(gw, "source.deregistered")
    assert len(events) == 1
    event = events[0]
    assert event["resource"] == f"source:{SOURCE}"
    assert DIBAO in event["details"]["unpublished"]  # type: ignore[index]
    assert event["details"]["secret_deleted"] is True  # type: ignore[index]
    assert "s3cret" not in str(event)
    assert _events(gw, "query.started"), "earlier queries stay on the trail"
    verify = gw.client.get("/api/v1/audit/verify", headers=gw.headers("sam"))
    assert verify.status_code == 200, verify.text
    assert verify.json()["ok"] is True
