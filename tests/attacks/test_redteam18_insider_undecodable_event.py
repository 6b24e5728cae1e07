"""As a database insider on the embedded default: an event's body made bytes that are
not UTF-8, its hash recomputed over them.

SQLite stores whatever bytes it is given in a TEXT column, and Python's driver raises
``OperationalError`` ("Could not decode to UTF-8") when it reads them back. Every reader
of the trail took that for an unreachable database: the monitor's walk (``audit.sweep``)
reported an error and tried again at every tick, never sealing, while the gateway served
on; the officer's verification answered 503 "unavailable" instead of naming the event, and
the export two people must take before they unseal failed the same way.
PostgreSQL refuses such bytes in a text column, so this is the embedded default's.
Red team 18.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.deployments import open_deployment
from tests.audit.helpers import tamper
from tests.gateway.demo_app import DemoGateway

DEADLINE_S = 20
SEQ = 5
DIBAO = "civil.dibao_recipients"
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-001", "fields": ["region_code"]}


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    home: Path = tmp_path_factory.mktemp("undecodable-event")
    with open_deployment("sqlite", home) as gw:
        yield gw


def test_an_event_that_is_not_utf8_seals_and_is_named(embedded: DemoGateway) -> None:
    """The last test of its gateway (module): it leaves the trail sealed, by design."""
    gw = embedded
    for _ in range(8):
        assert gw.query("arthur", DIBAO, QUERY).status_code == 200
    store = gw.services.audit.store
    conn = store.connect(reader=True)
    try:
        prev = store.fetch_all(conn, "SELECT prev_hash FROM audit_events WHERE seq = ?",
                               (SEQ,))[0][0]  # fmt: skip
    finally:
        conn.close()
    body = b'\xff{"seq":5}'
    digest = hashlib.sha256(bytes.fromhex(prev) + body).hexdigest()
    edit = (f"UPDATE audit_events SET body = CAST(X'{body.hex()}' AS TEXT), "
            f"hash = '{digest}' WHERE seq = {SEQ}")  # fmt: skip
    tamper(gw.settings.resolved_database_url, edit)

    verified = gw.client.get("/api/v1/audit/verify", headers=gw.headers("sam"))
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is False and verified.json()["first_bad_seq"] == SEQ
    deadline = time.monotonic() + DEADLINE_S
    while not gw.services.audit.seal.sealed:
        assert time.monotonic() < deadline, "the undecodable event never sealed the trail"
        time.sleep(0.1)
        gw.services.audit.seal.refresh()
    assert gw.query("arthur", DIBAO, QUERY).status_code == 503
    # the evidence export two people need before they unseal can be taken
    export = gw.client.get("/api/v1/audit/export", headers=gw.headers("sam"))
    assert export.status_code == 200 and b'"sealed":"' in export.content.splitlines()[-1]
