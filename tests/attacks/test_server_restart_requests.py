"""After the catalog-and-audit server restarts (an operator's restart, a failover, a
firewall dropping idle connections), the gateway's requests serve again at once: every
component that keeps connections (the catalog's pool, the generation reader, casbin's
engine, the audit writer and the audit store's readers) finds its dead ones and replaces
them without failing the caller. Red team 21 left "the audit store and casbin fail a few
requests after a server restart"; what was left of it here was the catalog's pool, whose
first checkout after the restart failed its request (503).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy.engine import make_url

from catalog.db import IDLE_PING_S
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
BODY = {"fields": ["name", "region_code"], "purpose": "supervision", "case_ref": "JW-2026-001",
        "limit": 5}  # fmt: skip


def _restart(gw: DemoGateway) -> None:
    """Every session of the database ended, as a server restart ends them (from a
    connection of the test's own: none of the gateway's survives)."""
    url = make_url(gw.services.engine.url.render_as_string(hide_password=False))
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(
            hide_password=False), autocommit=True) as conn:  # fmt: skip
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
            "datname = current_database() AND pid <> pg_backend_pid()"
        )


def _busy(gw: DemoGateway) -> None:
    """Requests at once: the pools hold several connections each."""
    with ThreadPoolExecutor(3) as pool:
        codes = list(pool.map(lambda _: gw.query("alice", DIBAO, BODY).status_code, range(9)))
    assert codes == [200] * 9, codes


@pytest.mark.parametrize("deployment", ["postgres"], indirect=True)
def test_requests_after_a_server_restart_all_serve(deployment: DemoGateway) -> None:
    gw = deployment
    _busy(gw)  # every component has its connections open
    assert gw.client.get("/api/v1/audit/events", params={"limit": 5},
                         headers=gw.headers("sam")).status_code == 200  # fmt: skip
    alice, sam = gw.headers("alice"), gw.headers("sam")  # minted before: the test's own
    _restart(gw)
    time.sleep(IDLE_PING_S + 0.5)  # a restart takes a while: the gateway's pool sat idle
    codes = []
    for _ in range(5):
        codes.append(gw.client.post(f"/api/v1/datasets/{DIBAO}/query", json=BODY,
                                    headers=alice).status_code)  # fmt: skip
        codes.append(gw.client.get("/api/v1/audit/events", params={"limit": 5},
                                   headers=sam).status_code)  # fmt: skip
        codes.append(gw.client.get("/api/v1/catalog", headers=alice).status_code)
    assert codes == [200] * len(codes), codes
    _busy(gw)
