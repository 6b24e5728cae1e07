"""A database insider deletes ``row_seal_adoption`` so the next start seals their rows.

Adoption (``gateway.wiring.row_seals``) is the one moment an unsealed row is trusted: it
runs while the one-row table ``row_seal_adoption`` is empty. That table is in the
catalog database, which is what the insider writes. So: insert ``g, arthur, role:admin,
*`` (unsealed, no role), ``DELETE FROM row_seal_adoption``, wait for the gateway's next
start (a deploy, a crash, a replica scaled up). Before the fix the start sealed the line
with every other unsealed row and arthur, an analyst, was an admin from then on — the
only trace a ``catalog.rows_sealed`` event that every upgraded deployment also has.
Stripping every seal first (all accounts refused until the start) made the counts look
like an upgrade's.

The gateway's home now remembers that this deployment's rows were adopted (a file
beside ``keys/mask.secret``, which the insider does not hold): a missing adoption row
then means a deletion behind the gateway, and nothing is adopted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from audit.search import EventFilter, list_events
from gateway.wiring.adoption_guard import MARKER, start_row_seals
from tests.gateway.demo_app import DemoGateway

USERS = "/api/v1/admin/users"


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    yield deployment
    deployment.sql("DELETE FROM casbin_rule WHERE v0 = 'arthur' AND v1 = 'role:admin'")
    deployment.sql("DELETE FROM casbin_rule WHERE seal IS NULL")
    deployment.sql("INSERT INTO row_seal_adoption (id, adopted_at) SELECT 1, 'test' WHERE NOT "
                   "EXISTS (SELECT 1 FROM row_seal_adoption)")  # fmt: skip


def _restart_adoption(gw: DemoGateway) -> dict[str, int]:
    """What the gateway's next ``build_services`` does with the catalog (row seals)."""
    settings = gw.settings
    start_row_seals(settings.resolved_database_url, gw.services.engine, settings.home,
                    gw.services.audit)  # fmt: skip


def test_a_deleted_adoption_row_does_not_seal_an_insiders_line(gw: DemoGateway) -> None:
    arthur = gw.headers("arthur")  # an analyst
    assert gw.client.get(USERS, headers=arthur).status_code == 403
    gw.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('g', 'arthur', 'role:admin', '*')")
    gw.sql("DELETE FROM row_seal_adoption")
    _restart_adoption(gw)
    assert gw.client.get(USERS, headers=arthur).status_code == 403
    with gw.services.engine.connect() as conn:
        left = conn.execute(text("SELECT seal FROM casbin_rule WHERE v0 = 'arthur' "
                                 "AND v1 = 'role:admin'")).scalar()  # fmt: skip
    assert left is None


def test_a_replica_on_a_fresh_home_does_not_adopt_either(gw: DemoGateway) -> None:
    """The home's file is per host: a replica started on a new one still sees a sealed
    row in the catalog, which only an adopted (or born-sealed) deployment has."""
    gw.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('g', 'arthur', 'role:admin', '*')")
    gw.sql("DELETE FROM row_seal_adoption")
    (gw.settings.home / MARKER).unlink()
    _restart_adoption(gw)
    assert gw.client.get(USERS, headers=gw.headers("arthur")).status_code == 403
    assert (gw.settings.home / MARKER).exists()
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="catalog.rows_sealed"), limit=5,
                       order="desc")  # fmt: skip
    restored = [e["details"].get("adoption_restored") for e in page["items"]]
    assert any(r and 1 in r for r in restored)  # on record, for an officer
