"""As a steward: another department's PostgreSQL database registered through another
address of its server (THREAT_MODEL, seventh pass, left open until now).

carl, steward of civil affairs, registered civil's database at ``127.0.0.1:5432``.
fiona, steward of finance, with her LAN allow-listed, registers the very same database
through the server's LAN address (a relay here, as a port forward, a pooler or another
DNS name would be): the ownership check compared addresses, so the source was created
(201) and finance could publish and read civil's rows.

Expected: refused (403) because of the server the connection reached — the identity the
server gives (system identifier and database), stored on civil's source — while another
database behind the same relay stays a source; a withdrawn civil source keeps its
database civil's; and when civil's identity was not yet known (a source from before
migration 0016), civil's server is asked first, so the department that registered first
keeps it: civil's connects work and finance's are refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from catalog.models import Source
from tests.attacks.relay import gateway_behind_relay
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.demo_app import DemoGateway
from tests.migrated import create_migrated_pg_database


@pytest.fixture()
def setup(tmp_path: Path) -> Iterator[tuple[DemoGateway, str, int, str]]:
    """A gateway on PostgreSQL, a relay on the LAN address to 127.0.0.1:5432, and
    civil's database on that server."""
    catalog_name, catalog_url = create_migrated_pg_database("sluice_srvid_cat")
    civil_db, _ = create_pg_database("sluice_srvid_civil")
    try:
        with gateway_behind_relay(tmp_path, catalog_url) as (gw, address, port):
            yield gw, address, port, civil_db
    finally:
        drop_pg_database(civil_db)
        drop_pg_database(catalog_name)


def _register(gw: DemoGateway, steward: str, department: str, url: str) -> tuple[int, dict]:
    source_id = f"{department}-{uuid.uuid4().hex[:8]}"
    body = {"id": source_id, "department": department, "kind": "postgresql",
            "display_name": "roll", "settings": {"url": url}}  # fmt: skip
    resp = gw.client.post("/api/v1/sources", json=body, headers=gw.headers(steward))
    return resp.status_code, {**resp.json(), "id": source_id}


def _civil(gw: DemoGateway, database: str) -> str:
    status, body = _register(gw, "carl", "civil",
                             f"postgresql://postgres@127.0.0.1:5432/{database}")  # fmt: skip
    assert status == 201, body
    return str(body["id"])


def _introspect(gw: DemoGateway, steward: str, source_id: str) -> int:
    return gw.client.post(f"/api/v1/sources/{source_id}/introspect",
                          headers=gw.headers(steward)).status_code  # fmt: skip


def test_another_departments_database_by_another_address_is_refused(
    setup: tuple[DemoGateway, str, int, str],
) -> None:
    gw, address, port, civil_db = setup
    _civil(gw, civil_db)
    status, body = _register(gw, "fiona", "finance",
                             f"postgresql://postgres@{address}:{port}/{civil_db}")  # fmt: skip
    assert status == 403, body
    assert "already registered by department 'civil'" in body["message"], body


def test_another_database_behind_the_same_address_stays_a_source(
    setup: tuple[DemoGateway, str, int, str],
) -> None:
    """The refusal above is the database's identity, not the relay or the server."""
    gw, address, port, civil_db = setup
    _civil(gw, civil_db)
    finance_db, _ = create_pg_database("sluice_srvid_fin")
    try:
        url = f"postgresql://postgres@{address}:{port}/{finance_db}"
        status, body = _register(gw, "fiona", "finance", url)
        assert status == 201, body
    finally:
        drop_pg_database(finance_db)


def test_a_withdrawn_source_keeps_its_database_its_departments(
    setup: tuple[DemoGateway, str, int, str],
) -> None:
    gw, address, port, civil_db = setup
    source_id = _civil(gw, civil_db)
    gone = gw.client.delete(f"/api/v1/sources/{source_id}", headers=gw.headers("carl"))
    assert gone.status_code == 200, gone.text
    status, body = _register(gw, "fiona", "finance",
                             f"postgresql://postgres@{address}:{port}/{civil_db}")  # fmt: skip
    assert status == 403, body


def test_an_older_source_without_its_identity_is_asked_first(
    setup: tuple[DemoGateway, str, int, str],
) -> None:
    """civil's source from before the identity was kept (migration 0016): finance's
    registration through the relay asks civil's server first, and is refused."""
    gw, address, port, civil_db = setup
    civil_id = _civil(gw, civil_db)
    gw.edit_source(civil_id, server_identity=None)  # as a row from before migration 0016
    status, body = _register(gw, "fiona", "finance",
                             f"postgresql://postgres@{address}:{port}/{civil_db}")  # fmt: skip
    assert status == 403, body
    with gw.services.sessions() as session:
        civil = session.get(Source, civil_id)
        assert civil is not None and civil.server_identity, "civil's identity was learned"


def test_the_department_that_registered_first_keeps_it(
    setup: tuple[DemoGateway, str, int, str],
) -> None:
    """Both sources from before migration 0016 (no identity on either, civil's older):
    civil's next connect still works, finance's is refused from then on."""
    gw, address, port, civil_db = setup
    civil_id = _civil(gw, civil_db)
    finance_id = "finance-relay"
    with gw.services.sessions() as session:  # finance's source as it got in before 0016
        civil = session.get(Source, civil_id)
        assert civil is not None
        civil.server_identity = None
        session.add(Source(
            id=finance_id, department="finance", kind="postgresql", display_name="roll",
            settings={"url": f"postgresql://postgres@{address}:{port}/{civil_db}"},
            redacted=finance_id, created_by="fiona",
            created_at=civil.created_at + timedelta(seconds=1),
        ))  # fmt: skip
        session.commit()
    gw.client.app.state.broker.sources.close()  # type: ignore[attr-defined]
    assert _introspect(gw, "fiona", finance_id) == 403  # civil's server asked first
    assert _introspect(gw, "carl", civil_id) == 200
