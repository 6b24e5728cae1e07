"""Red team 6, as a steward: the gateway's own PostgreSQL database as a source, when
the gateway reaches it by a Unix socket.

"The gateway's own catalog, audit and Redis databases can never be a source" (README):
``guard.refuse_own_system`` compares a source's target with the catalog's, derived
from ``SLUICE_DATABASE_URL``. A URL that names no host — libpq's Unix socket, the usual
spelling when the database runs on the gateway's host (``postgresql+psycopg://
sluice_app@/sluice``, or ``…@/sluice?host=/var/run/postgresql``, or ``?host=127.0.0.1``)
— gives no network target, and the check then compared nothing: fiona, steward of
finance, with the server's loopback address allow-listed for her department's own
databases, registers ``postgresql://…@127.0.0.1/<the catalog's database>``, could
introspect it and publish ``users``, ``local_passwords``, ``casbin_rule`` and the audit trail
through the gateway itself.

Expected: refused (403) however the catalog's URL reaches its server.

PostgreSQL only: on the embedded default the catalog is a file, guarded by path and
file identity (``test_steward_sources.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.deployments import assert_catalog_refused_as_source, catalog_spelled
from tests.gateway.demo_app import DemoGateway

SPELLINGS = {
    "socket": "postgresql+psycopg://postgres@/{db}",
    "socket_dir": "postgresql+psycopg://postgres@/{db}?host=/var/run/postgresql",
    "query_host": "postgresql+psycopg://postgres@/{db}?host=127.0.0.1&port=5432",
}


@pytest.fixture(params=sorted(SPELLINGS))
def socket_gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoGateway]:
    with catalog_spelled(SPELLINGS[request.param], tmp_path, db_prefix="sluice_rt6_socket") as gw:
        yield gw


def test_the_catalog_reached_by_socket_is_never_a_source(socket_gateway: DemoGateway) -> None:
    assert_catalog_refused_as_source(socket_gateway)
