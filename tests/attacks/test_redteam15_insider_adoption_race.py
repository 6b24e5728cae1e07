"""Red team 15: the adoption row deleted again right after the start wrote it back.

The adoption guard (2bd21b3, a324539) writes back, at each start, an adoption row the
catalog lost while the home's file (or a sealed row) says the family was adopted. But
the adoption that follows (``adopt_unsealed_rows``) asked the database alone: the
insider, deleting ``row_seal_adoption`` in a loop while a replica starts (a deploy, a
crash, a scale-up: the insider waits for one), has their DELETE land between the
write-back and the adoption's read, and the adoption sealed their unsealed admin line
with nothing but a second ``catalog.rows_sealed`` event. Now a family the home or a
sealed row witnesses is never adopted, whatever the table says at that moment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from gateway.wiring import adoption_guard
from gateway.wiring.row_seals import Trail
from tests.gateway.demo_app import DemoGateway

USERS = "/api/v1/admin/users"


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    yield deployment
    deployment.sql("DELETE FROM casbin_rule WHERE v0 = 'arthur' AND v1 = 'role:admin'")
    deployment.sql("DELETE FROM casbin_rule WHERE seal IS NULL")
    for family in (1, 2, 3, 4):
        deployment.sql("INSERT INTO row_seal_adoption (id, adopted_at) SELECT :f, 'test' "
                       "WHERE NOT EXISTS (SELECT 1 FROM row_seal_adoption WHERE id = :f)",
                       f=family)  # fmt: skip
    deployment.sql("UPDATE casbin_revision SET revision = revision + 1 WHERE id = 1")


def test_an_adoption_row_deleted_after_its_write_back_does_not_seal_an_insiders_line(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    arthur = gw.headers("arthur")  # an analyst
    assert gw.client.get(USERS, headers=arthur).status_code == 403
    gw.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('g', 'arthur', 'role:admin', '*')")
    gw.sql("DELETE FROM row_seal_adoption")
    restore = adoption_guard.restore_lost_adoptions

    def restore_then_the_insiders_delete(engine: Engine, home: Path, audit: Trail) -> list[int]:
        restored = restore(engine, home, audit)
        gw.sql("DELETE FROM row_seal_adoption")  # the insider's loop, once more
        return restored

    monkeypatch.setattr(adoption_guard, "restore_lost_adoptions",
                        restore_then_the_insiders_delete)  # fmt: skip
    settings = gw.settings
    adoption_guard.start_row_seals(settings.resolved_database_url, gw.services.engine,
                                   settings.home, gw.services.audit)  # fmt: skip
    with gw.services.engine.connect() as conn:
        left = conn.execute(text("SELECT seal FROM casbin_rule WHERE v0 = 'arthur' "
                                 "AND v1 = 'role:admin'")).scalar()  # fmt: skip
    assert left is None
    gw.sql("UPDATE casbin_revision SET revision = revision + 1 WHERE id = 1")
    assert gw.client.get(USERS, headers=arthur).status_code == 403
