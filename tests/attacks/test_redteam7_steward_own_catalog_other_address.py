"""Red team 7, as a steward: the gateway's own PostgreSQL catalog as a source, reached
by an address the catalog's URL does not name — the server's LAN address.

The own-database guard compares addresses: the source's resolved address and port with
every server the catalog's URL names. A catalog server listening beyond loopback (on
its LAN address as well as 127.0.0.1, the usual ``listen_addresses = '*'``) is the same
server under another address: fiona, steward of finance, with her department's LAN
allow-listed, registers ``postgresql://…@<the server's LAN address>/<the catalog's
database>`` and reads the users, role assignments, password rows and audit trail behind
the gateway. So does any other path to the same server: a port forward, a connection
pooler, a DNS name of another address, a streaming replica of the catalog.

On this machine PostgreSQL listens on 127.0.0.1 only, so the test puts the server on
the machine's non-loopback address the way a forwarder would (a TCP relay on
``hostname -I``'s first address to 127.0.0.1:5432): to the gateway it is a server on
the LAN address, the same data behind it.

Expected: the source is refused (403) because of the server it reaches — its system
identifier and database, asked on the connection itself — not because of how it is
spelled; another database on that same server stays a source.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.attacks.relay import lan_address, relay
from tests.conftest import PG_ADMIN, create_pg_database, drop_pg_database
from tests.gateway.demo_app import DemoGateway, demo_gateway


@pytest.fixture()
def lan(tmp_path: Path) -> Iterator[tuple[DemoGateway, str, int]]:
    address = lan_address()
    name, url = create_pg_database("sluice_rt7_lan")
    try:
        with (
            relay(address, ("127.0.0.1", 5432)) as port,
            demo_gateway(tmp_path, database_url=url, source_allow_hosts=[address]) as gw,
        ):
            yield gw, address, port
    finally:
        drop_pg_database(name)


def _register(gw: DemoGateway, url: str) -> object:
    body = {
        "id": f"lan-{uuid.uuid4().hex[:8]}", "department": "finance", "kind": "postgresql",
        "display_name": "payroll (LAN)", "settings": {"url": url},
    }  # fmt: skip
    return gw.client.post("/api/v1/sources", json=body, headers=gw.headers("fiona"))


def test_the_catalog_reached_by_another_address_is_never_a_source(
    lan: tuple[DemoGateway, str, int],
) -> None:
    gw, address, port = lan
    database = make_url(gw.settings.resolved_database_url).database
    resp = _register(gw, f"postgresql://postgres@{address}:{port}/{database}")
    assert resp.status_code == 403, (resp.status_code, resp.text)  # type: ignore[attr-defined]
    assert "gateway's own catalog" in resp.json()["message"], resp.text  # type: ignore[attr-defined]


def test_another_database_behind_that_address_stays_a_source(
    lan: tuple[DemoGateway, str, int],
) -> None:
    """The same relay, another database: registered (201), so the refusal above is the
    server's identity, not a connection that failed."""
    gw, address, port = lan
    name, _url = create_pg_database("sluice_rt7_lan_dept")
    try:
        resp = _register(gw, f"postgresql://postgres@{address}:{port}/{name}")
        assert resp.status_code == 201, resp.text  # type: ignore[attr-defined]
    finally:
        drop_pg_database(name)


def test_a_server_that_will_not_say_which_it_is_is_refused(
    lan: tuple[DemoGateway, str, int],
) -> None:
    """A login that may not call ``pg_control_system()`` (revoked from PUBLIC in its
    database) could hide the catalog behind it: while the catalog is on PostgreSQL,
    such a server is refused, never assumed to be another."""
    gw, address, port = lan
    name, _url = create_pg_database("sluice_rt7_mute")
    role = f"rt7_mute_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        in_db = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
        with psycopg.connect(in_db, autocommit=True) as conn:
            conn.execute("REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC")
        resp = _register(gw, f"postgresql://{role}@{address}:{port}/{name}")
        assert resp.status_code == 403, resp.text  # type: ignore[attr-defined]
        assert "does not say" in resp.json()["message"], resp.text  # type: ignore[attr-defined]
    finally:
        drop_pg_database(name)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
