"""Red team 8, as a steward: the gateway's own PostgreSQL catalog as a source, its
server's answer to "which server are you?" forged by the login's search path.

Since red team 7 every new connection of a PostgreSQL source asks the server it reached
``SELECT system_identifier::text || '/' || current_database() FROM
pg_control_system()`` and is refused if the answer is the catalog's. Those names were
unqualified, and PostgreSQL looks ``pg_catalog`` up *after* the schemas a role's
``search_path`` names first: a login with a schema of its own in the catalog's database
(a DBA's grant, or the ``public`` schema of a cluster upgraded from PostgreSQL 14, where
everyone may create) runs ``ALTER ROLE me SET search_path = mine, pg_catalog`` — any role
may set its own defaults — and defines ``mine.pg_control_system()`` (or
``mine.current_database()``) answering another server's identity. fiona, steward of
finance, with the LAN allow-listed, then registers the catalog's database by the server's
LAN address (the relay of red team 7 stands for it, PostgreSQL listening on loopback only
here) and it is accepted: 201, the users, password rows and audit trail behind it.

Expected: the identity is read with qualified names and no operator a schema can
shadow, so the forged functions are never called and the source is refused (403).
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

FAKE_CONTROL = """
CREATE FUNCTION {schema}.pg_control_system(
    OUT pg_control_version integer, OUT catalog_version_no integer,
    OUT system_identifier bigint, OUT pg_control_last_modified timestamptz
) RETURNS record LANGUAGE sql AS $$ SELECT 1300, 202209061, 42::bigint, now() $$
"""
FAKE_DATABASE = (
    "CREATE FUNCTION {schema}.current_database() RETURNS name LANGUAGE sql "
    "AS $$ SELECT 'payroll'::name $$"
)


@pytest.fixture()
def shadowing(tmp_path: Path) -> Iterator[tuple[DemoGateway, str, int, str, str]]:
    """The gateway on a PostgreSQL catalog, the relay on the LAN address, and a login
    owning a schema in the catalog's database (the gateway's data is not its)."""
    address = lan_address()
    name, url = create_pg_database("sluice_rt8_shadow")
    role = f"rt8_shadow_{uuid.uuid4().hex[:8]}"
    in_catalog = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        with (
            relay(address, ("127.0.0.1", 5432)) as port,
            demo_gateway(tmp_path, database_url=url, source_allow_hosts=[address]) as gw,
        ):
            with psycopg.connect(in_catalog, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{role}" AUTHORIZATION "{role}"')
            yield gw, address, port, name, role
    finally:
        drop_pg_database(name)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def _as_role(database: str, role: str) -> str:
    return (
        make_url(PG_ADMIN)
        .set(database=database, username=role)
        .render_as_string(hide_password=False)
    )


def _register(gw: DemoGateway, url: str) -> object:
    body = {
        "id": f"shadow-{uuid.uuid4().hex[:8]}", "department": "finance", "kind": "postgresql",
        "display_name": "payroll (LAN)", "settings": {"url": url},
    }  # fmt: skip
    return gw.client.post("/api/v1/sources", json=body, headers=gw.headers("fiona"))


@pytest.mark.parametrize("forged", [FAKE_CONTROL, FAKE_DATABASE], ids=["identifier", "database"])
def test_a_search_path_cannot_forge_the_servers_identity(
    shadowing: tuple[DemoGateway, str, int, str, str], forged: str
) -> None:
    gw, address, port, database, role = shadowing
    # what the login does on its own: its own defaults, a function in its own schema
    with psycopg.connect(_as_role(database, role), autocommit=True) as conn:
        conn.execute(f'ALTER ROLE "{role}" SET search_path = "{role}", pg_catalog')
        conn.execute(forged.format(schema=f'"{role}"'))  # type: ignore[arg-type]
    asked = "SELECT system_identifier::text || '/' || current_database() FROM pg_control_system()"
    answers = []
    for login in (PG_ADMIN, _as_role(database, role)):  # the truth, then what the login says
        in_db = make_url(login).set(database=database).render_as_string(hide_password=False)
        with psycopg.connect(in_db, autocommit=True) as conn:
            answers.append(conn.execute(asked).fetchone())
    assert answers[0] != answers[1], answers  # the unqualified question is answered falsely
    resp = _register(gw, f"postgresql://{role}@{address}:{port}/{database}")
    assert resp.status_code == 403, (resp.status_code, resp.text)  # type: ignore[attr-defined]
    assert "gateway's own catalog" in resp.json()["message"], resp.text  # type: ignore[attr-defined]
