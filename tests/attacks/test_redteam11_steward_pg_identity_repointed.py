"""As a steward: another department's PostgreSQL database taken over by re-pointing an
older source (red team 11).

The server-identity check (``gateway.enforcement.sources.server_claims``) refuses a
connection to a database another department's source registered *before* this source
reached the same server and database. fiona registered finance's own database through
the server's LAN address (a relay here) first; carl registered civil's database at
``127.0.0.1`` afterwards; fiona then changed her source's database to civil's (a
``PATCH`` of its URL, through the same relay). Her source is older than civil's, so
civil's claim was not compared at all: the change was accepted (200), finance read
civil's database, and her source now held civil's identity — as the older claim, it
locked civil's own steward out of civil's database (403 on carl's introspection).

Expected: a source that reaches another identity than the one it holds is compared with
every other department's claim, as a new registration is (403); the owner keeps it.
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


@pytest.fixture(params=["sqlite", "postgresql"])
def setup(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[DemoGateway, str, int, str, str]]:
    """A gateway on the embedded catalog or on PostgreSQL, a relay on the LAN address
    to 127.0.0.1:5432, civil's and finance's databases on that server."""
    catalog_name, catalog_url = (
        create_pg_database("sluice_rt11_cat") if request.param == "postgresql" else ("", None)
    )
    civil_db, _ = create_pg_database("sluice_rt11_civil")
    finance_db, _ = create_pg_database("sluice_rt11_fin")
    try:
        with gateway_behind_relay(tmp_path, catalog_url) as (gw, address, port):
            yield gw, address, port, civil_db, finance_db
    finally:
        for name in (finance_db, civil_db, catalog_name):
            if name:
                drop_pg_database(name)


def _register(gw: DemoGateway, steward: str, department: str, url: str) -> str:
    source_id = f"{department}-{uuid.uuid4().hex[:8]}"
    body = {"id": source_id, "department": department, "kind": "postgresql",
            "display_name": "roll", "settings": {"url": url}}  # fmt: skip
    resp = gw.client.post("/api/v1/sources", json=body, headers=gw.headers(steward))
    assert resp.status_code == 201, resp.text
    return source_id


@pytest.mark.parametrize("before_0016", [False, True])
def test_an_older_source_repointed_at_a_later_claim_is_refused(
    setup: tuple[DemoGateway, str, int, str, str], before_0016: bool
) -> None:
    """``before_0016``: finance's source as a row from before migration 0016 that has
    not connected since (no identity known of it)."""
    gw, address, port, civil_db, finance_db = setup
    finance_id = _register(gw, "fiona", "finance",
                           f"postgresql://postgres@{address}:{port}/{finance_db}")  # fmt: skip
    civil_id = _register(gw, "carl", "civil", f"postgresql://postgres@127.0.0.1:5432/{civil_db}")
    if before_0016:
        gw.edit_source(finance_id, server_identity=None)
    moved = gw.client.patch(
        f"/api/v1/sources/{finance_id}", headers=gw.headers("fiona"),
        json={"settings": {"url": f"postgresql://postgres@{address}:{port}/{civil_db}"}},
    )  # fmt: skip
    assert moved.status_code == 403, moved.text
    assert "already registered by department 'civil'" in moved.json()["message"]
    gw.client.app.state.broker.sources.close()  # type: ignore[attr-defined]
    civil = gw.client.post(f"/api/v1/sources/{civil_id}/introspect", headers=gw.headers("carl"))
    assert civil.status_code == 200, civil.text


def test_an_owner_without_its_identity_is_not_locked_out_by_a_later_claim(
    setup: tuple[DemoGateway, str, int, str, str],
) -> None:
    """civil's source from before migration 0016 could not be asked when finance's
    later source reached civil's database (civil's server was down then): civil's first
    connect keeps its place as the older registration, and finance's is refused."""
    gw, address, port, civil_db, _finance_db = setup
    civil_id = _register(gw, "carl", "civil", f"postgresql://postgres@127.0.0.1:5432/{civil_db}")
    finance_id = "finance-impostor"
    with gw.services.sessions() as session:
        civil = session.get(Source, civil_id)
        assert civil is not None and civil.server_identity
        session.add(Source(
            id=finance_id, department="finance", kind="postgresql", display_name="roll",
            settings={"url": f"postgresql://postgres@{address}:{port}/{civil_db}"},
            redacted=finance_id, created_by="fiona", server_identity=civil.server_identity,
            created_at=civil.created_at + timedelta(seconds=1),
        ))  # fmt: skip
        civil.server_identity = None
        session.commit()
    gw.client.app.state.broker.sources.close()  # type: ignore[attr-defined]
    carl = gw.client.post(f"/api/v1/sources/{civil_id}/introspect", headers=gw.headers("carl"))
    assert carl.status_code == 200, carl.text
    fiona = gw.client.post(f"/api/v1/sources/{finance_id}/introspect", headers=gw.headers("fiona"))
    assert fiona.status_code == 403, fiona.text
