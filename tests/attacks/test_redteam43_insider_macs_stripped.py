"""Red team 43, as a database insider with the owner's rights: every event's MAC
stripped, so that an event of their own passes for one written before MACs existed.

Rule (red team 3): every event carries a MAC only the deployment's gateways can make;
from the first MAC'd event on, an event without one is a forgery (``mac missing``): the
writer seals rather than chain onto it, verification names it. Events from before the
upgrade carry none and are accepted below the first MAC'd event
(``AuditStore.mac_boundary``), which "an insider cannot move earlier".

Attack: they need not move it earlier — they remove it. While the gateway is stopped
(an upgrade, a restart), the insider sets ``mac = NULL`` on every event (the append-only
triggers bypassed, as ``tests/audit/helpers.tamper``) and appends at the head an admin's
``role.assigned`` making alice an admin, chained correctly, without a MAC. The trail now
reads as one written entirely before MACs: the restarted gateway chained onto the
forgery, signed a checkpoint over it, the monitor saw nothing, and the officer's
verification (with the local witness file) answered ok — red team 3's forgery, vouched
for by the gateway's own signature.

Expected: the forgery does not verify and the trail is sealed, on the embedded default
and PostgreSQL. The gateway keeps, in its home (outside the database), the seq from
which it knows every event is MAC'd.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.store import ROW_COLUMNS
from tests.attacks.deployments import KINDS
from tests.attacks.test_redteam3_insider_forged_append import _quiet_head, forged_row
from tests.audit.helpers import tamper
from tests.conftest import drop_pg_database_later
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.migrated import create_migrated_pg_database


@pytest.fixture(params=KINDS)
def catalog(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The deployment's database URL (None: the embedded default)."""
    if request.param == "sqlite":
        yield None
        return
    name, url = create_migrated_pg_database("sluice_rt43_macs")
    try:
        yield url
    finally:
        drop_pg_database_later(name)


def _strip_and_forge(gw: DemoGateway) -> int:
    """Every MAC stripped, and a MAC-less ``role.assigned`` chained onto the head."""
    seq, head = _quiet_head(gw)
    row = forged_row(seq + 1, head, lambda *_: None)
    values = ",".join("NULL" if v is None else "'" + str(v).replace("'", "''") + "'" for v in row)
    url = gw.services.audit.store.url
    gw.services.close()  # the gateway stopped: an upgrade, a restart
    tamper(
        url,
        "UPDATE audit_events SET mac = NULL",
        f"INSERT INTO audit_events ({','.join(ROW_COLUMNS)}) VALUES ({values})",
    )
    return seq + 1


def test_stripped_macs_do_not_make_a_forgery_legacy(tmp_path: Path, catalog: str | None) -> None:
    settings = {} if catalog is None else {"database_url": catalog}
    with demo_gateway(tmp_path, **settings) as gw:
        for _ in range(5):  # a trail of the gateway's own, MAC'd
            read = gw.client.get("/api/v1/audit/events?limit=1", headers=gw.headers("sam"))
            assert read.status_code == 200, read.text
        forged = _strip_and_forge(gw)
    with demo_gateway(tmp_path, **settings) as gw:
        for _ in range(15):  # the restarted gateway's next events (and a checkpoint)
            gw.client.get("/api/v1/audit/events?limit=1", headers=gw.headers("sam"))
        verdict = gw.client.get("/api/v1/audit/verify", headers=gw.headers("sam"))
        sealed = gw.client.get("/healthz").json().get("sealed")
        body = verdict.json() if verdict.status_code == 200 else {"ok": False}
        assert sealed or not body["ok"], (
            f"the MAC-less role.assigned at seq {forged} verifies once every MAC was "
            f"stripped: {body}"
        )
