"""Red team 21: the catalog generation reader's connections after the catalog server
restarts (an operator's restart, a failover, a firewall dropping idle connections).

The reader keeps up to 8 driver connections of its own (issue 17), which it took out of
the engine's pool (``raw_connection``). After a restart that pool is full of dead
connections: each new one the reader took failed the request that read with it, one at
a time, and a failed one was dropped alone while its idle siblings, dead as well, failed
the next requests — 12 requests of alice's failed on the reader alone (503) before every
authenticated request served again, in every process. The reader now opens its
connections from a pool of its own (the engine's creator and hooks: search path,
pragmas) and closes its idle ones at a failure, as the engine's pool invalidates its
own: one request fails on it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from tests.gateway.demo_app import DemoGateway

REQUESTS = "/api/v1/access-requests"  # any request of a signed-in caller reads the generation


def _readers(gw: DemoGateway) -> int:
    with gw.services.engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'SELECT value FROM catalog_generation%'")).scalar_one())  # fmt: skip


@pytest.mark.parametrize("deployment", ["postgres"], indirect=True)  # libpq's own connections
def test_a_restart_costs_the_reader_one_failed_request(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    headers = gw.headers("alice")
    reader = gw.client.app.state.identities._generations  # type: ignore[attr-defined]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(20):
            if _readers(gw) >= 4:
                break
            list(pool.map(lambda _: gw.client.get(REQUESTS, headers=headers), range(16)))
    assert _readers(gw) >= 4
    failed: list[object] = []
    drop = reader._drop
    monkeypatch.setattr(reader, "_drop", lambda conn: (failed.append(conn), drop(conn)))
    with gw.services.engine.connect() as conn:  # the server restarted: every session gone
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                          "datname = current_database() AND pid <> pg_backend_pid()"))  # fmt: skip
        conn.commit()
    codes = [gw.client.get(REQUESTS, headers=headers).status_code for _ in range(30)]
    assert codes[-1] == 200, codes
    assert len(failed) == 1, f"{len(failed)} requests failed on the reader's dead connections"
