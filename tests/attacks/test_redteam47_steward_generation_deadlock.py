"""Red team 47, as two stewards at once on PostgreSQL: the generation bump's deadlock.

Rule: two stewards' changes made at once are serialised, the later one waiting or
refused (409) before its record; neither is a 500, and nothing is on the trail ``ok``
that did not happen (red team 25).

Attack: red team 46 made every write of a watched table bump the catalog generation
*before* the statement (``catalog.generation_bump``), where the triggers had bumped it
*after*: the generation row's lock is now taken before the row's own. A publication
locks its source's row (``SELECT … FOR UPDATE``, ``catalog.service._lock_source``)
and then writes the entry; a source edit landing in between took the generation's lock,
then waited for the source row — and the publication's write waited for the
generation: a deadlock, PostgreSQL's detector aborting one of them a second later (a
500, its ``dataset.published`` or ``source.updated`` left ``ok`` on the trail). With
the triggers' order the edit waited for the row holding nothing, and both went through.

Expected: both answered 200, one after the other. PostgreSQL only (SQLite has one
writer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from catalog import service as catalog_service
from tests.attacks.deployments import open_deployment
from tests.gateway.demo_app import DemoGateway

SOURCE = "civil-db"
DIBAO = "civil.dibao_recipients"


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    home: Path = tmp_path_factory.mktemp("rt47-deadlock")
    with open_deployment("postgres", home, db_prefix="sluice_rt47_deadlock") as gw:
        yield gw


def _waiting_on_a_lock(gw: DemoGateway) -> bool:
    with gw.services.engine.connect() as conn:
        found = conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")).scalar()  # fmt: skip
    return bool(found)


def test_a_publication_and_a_source_edit_at_once_both_go_through(
    pg: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = pg
    carl = gw.headers("carl")
    gw.edit_entry(DIBAO, status="draft")
    locked, edited = threading.Event(), threading.Event()
    original = catalog_service._lock_source

    def held(session: Any, source_id: str) -> Any:
        found = original(session, source_id)
        locked.set()  # the publication holds the source's row
        assert edited.wait(30)
        deadline = time.monotonic() + 5  # until the edit waits for that row
        while not _waiting_on_a_lock(gw) and time.monotonic() < deadline:
            time.sleep(0.05)
        return found

    monkeypatch.setattr(catalog_service, "_lock_source", held)
    results: dict[str, Any] = {}

    def publish() -> None:
        results["publish"] = gw.client.post(f"/api/v1/datasets/{DIBAO}/publish", headers=carl)

    def edit() -> None:
        edited.set()
        renamed = {"display_name": "Civil affairs (renamed)"}
        results["edit"] = gw.client.patch(f"/api/v1/sources/{SOURCE}", headers=carl, json=renamed)

    publishing = threading.Thread(target=publish)
    publishing.start()
    assert locked.wait(30)
    editing = threading.Thread(target=edit)
    editing.start()
    publishing.join(60)
    editing.join(60)
    answers = {k: (r.status_code, r.text[:200]) for k, r in results.items()}
    assert answers["publish"][0] == 200, answers
    assert answers["edit"][0] == 200, answers
    assert (
        gw.query(
            "alice",
            DIBAO,
            {
                "purpose": "supervision",
                "case_ref": "JW-RT47-DL",
                "fields": ["region_code"],
                "limit": 1,
            },
        ).status_code
        == 200
    )
