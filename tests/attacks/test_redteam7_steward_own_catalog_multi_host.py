"""Red team 7, as a steward: the gateway's own PostgreSQL catalog as a source, when the
catalog's URL names several hosts (libpq's multi-host form) or names its host twice.

"The gateway's own catalog, audit and Redis databases can never be a source" (README).
``guard.refuse_own_system`` compares a source's target with the server the catalog's
URL reaches. It took the *first* host of a libpq list (``?host=db1,db2``), and the host
in the URL's authority even when a ``?host=`` parameter overrides it for the driver. A
catalog URL listing a standby first (``?host=standby,primary``, the usual spelling of a
fail-over pair), or a port list, reaches the primary whenever the first does not answer,
yet only the first was compared: fiona, steward of finance, with the server's loopback
address allow-listed for her department's databases, registered
``postgresql://…@127.0.0.1/<the catalog's database>`` — the users, role assignments,
password rows and audit trail behind the gateway — and could publish them.

Here the first host is one nothing listens on (the server listens on 127.0.0.1:5432
only), so the gateway itself reaches its catalog through the second, as it would after
a fail-over.

Expected: refused (403) whichever of the hosts the URL lists the source names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.deployments import assert_catalog_refused_as_source, catalog_spelled
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.demo_app import DemoGateway

SPELLINGS = {
    # libpq's comma lists: the first host (or port) refuses, the second is the catalog
    "host_list": "postgresql+psycopg://postgres@/{db}?host=127.0.0.2,127.0.0.1",
    "port_list": "postgresql+psycopg://postgres@/{db}?host=127.0.0.1,127.0.0.1&port=5999,5432",
    # a host in the authority, overridden for the driver by the query's
    "query_overrides": "postgresql+psycopg://postgres@127.0.0.2/{db}?host=127.0.0.1",
}


@pytest.fixture(params=sorted(SPELLINGS))
def multi_host_gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoGateway]:
    with catalog_spelled(SPELLINGS[request.param], tmp_path, db_prefix="sluice_rt7_hosts") as gw:
        yield gw


def test_every_host_of_the_catalog_url_is_the_catalog(multi_host_gateway: DemoGateway) -> None:
    assert_catalog_refused_as_source(multi_host_gateway)


def test_another_database_on_the_same_server_stays_registrable(
    multi_host_gateway: DemoGateway,
) -> None:
    """The guard refuses the catalog, not the server: a department's own database on
    the same server (allow-listed) is still a source."""
    gw = multi_host_gateway
    name, _url = create_pg_database("sluice_rt7_dept")
    try:
        body = {
            "id": f"dept-{uuid.uuid4().hex[:8]}", "department": "finance", "kind": "postgresql",
            "display_name": "payroll",
            "settings": {"url": f"postgresql://postgres@127.0.0.1/{name}"},
        }  # fmt: skip
        resp = gw.client.post("/api/v1/sources", json=body, headers=gw.headers("fiona"))
        assert resp.status_code == 201, resp.text
    finally:
        drop_pg_database(name)
