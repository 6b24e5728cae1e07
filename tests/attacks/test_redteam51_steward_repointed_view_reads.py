"""Red team 51, as civil's steward (carl) with civil's database administrator: a
published entry's *source re-pointed* onto a view of the frozen roll, whose recorded
reads are still those of the system it was drafted on.

Rule (stop 37): an entry records the tables its object reads at its draft and each
refresh (``datasets.reads``); a freeze holds every entry of the frozen entry's system
that reads a table in common with it (``FrozenObject.held_by``), whatever its columns
are called. A re-pointed source's published entries are checked against the freezes
(``frozen.refuse_repointed_at_frozen``, red team 10) — by object names only.

Attack: carl registers a second civil source over a harmless SQLite file holding a
table ``dibao_rt51_moved`` shaped as red team 48's reshaped view (the roll without its
phone and address, a constant team column), and publishes an entry over it: it reads
that table. Civil's administrator creates the view ``dibao_rt51_moved`` (the reshaped
view of the roll) in civil's database. sam freezes the roll. carl re-points the second
source at civil's database (``PATCH /sources/{id}``): the entry now reads the roll
through the view, its recorded reads still the harmless file's table and its fields
nested neither way in the roll's.

Expected: the re-point is refused (409) or the entry is held by the freeze (423); an
entry re-pointed before a freeze is held by it. On the embedded default and on
PostgreSQL.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

from tests.attacks.frozen_roll import roll_frozen
from tests.attacks.test_redteam10_steward_frozen_entry_copy import (
    DIBAO,
    QUERY,
    WHY,
    _post,
    _source_settings,
)
from tests.attacks.test_redteam45_analyst_view_codebook import civil_database
from tests.attacks.test_redteam48_analyst_reshaped_view_codebook import RESHAPED
from tests.gateway.demo_app import DemoGateway

VIEW = "dibao_rt51_moved"


def _harmless_file(gw: DemoGateway, tag: str) -> str:
    """A copy of civil's database whose roll is renamed and emptied, with ``VIEW`` over
    it: the same columns and types as the view of the real roll, no one's rows."""
    civil = Path(civil_database(gw))
    harmless = civil.with_name(f"civil_rt51_{tag}.db")
    shutil.copy(civil, harmless)
    with sqlite3.connect(harmless) as db:
        db.execute(f"DROP VIEW IF EXISTS {VIEW}")  # the real one, from another test
        db.execute("ALTER TABLE dibao_recipients RENAME TO harmless_rows")
        db.execute("DELETE FROM harmless_rows")
        db.execute(f"CREATE VIEW {VIEW} AS {RESHAPED.replace('dibao_recipients', 'harmless_rows')}")
    return str(harmless)


def _published_on_harmless_file(gw: DemoGateway, tag: str) -> tuple[str, dict[str, str]]:
    """carl's second civil source over the harmless file and its entry over ``VIEW``
    (published); civil's administrator's view of the real roll in civil's database. The
    entry's id and civil's own settings (to re-point the second source at)."""
    kind, settings = _source_settings(gw, "civil-db")
    harmless = _harmless_file(gw, tag)
    assert civil_database(gw) in settings["url"]
    moved = {"url": settings["url"].replace(civil_database(gw), harmless)}
    made = _post(gw, "carl", "/sources", {"id": f"civil-rt51-{tag}", "department": "civil",
                                          "kind": kind, "display_name": "civil archive",
                                          "settings": moved})  # fmt: skip
    assert made.status_code == 201, made.text
    entry = f"civil.{VIEW}_{tag}"
    drafted = _post(gw, "carl", "/datasets", {
        "source_id": f"civil-rt51-{tag}", "object_name": VIEW, "dataset_id": entry,
        "title_en": "archive", "allowed_purposes": ["supervision", "audit"]})  # fmt: skip
    assert drafted.status_code == 201, drafted.text
    patched = gw.client.patch(f"/api/v1/datasets/{entry}", headers=gw.headers("carl"),
                              json={"region_field": "region_code"})  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert _post(gw, "carl", f"/datasets/{entry}/publish", {}).status_code == 200
    with sqlite3.connect(civil_database(gw)) as db:
        db.execute(f"CREATE VIEW IF NOT EXISTS {VIEW} AS {RESHAPED}")
    return entry, settings


def _repoint(gw: DemoGateway, tag: str, settings: dict[str, str]) -> Any:
    return gw.client.patch(f"/api/v1/sources/civil-rt51-{tag}", headers=gw.headers("carl"),
                           json={"settings": settings})  # fmt: skip


def test_a_source_repointed_onto_a_view_of_the_frozen_roll_is_held(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    entry, settings = _published_on_harmless_file(gw, "during")
    assert _post(gw, "sam", f"/datasets/{DIBAO}/freeze", WHY).status_code == 200
    try:
        repointed = _repoint(gw, "during", settings)
        if repointed.status_code == 200:
            read = gw.query("dora", entry, QUERY)
            assert read.status_code == 423, f"the frozen roll read: {read.text[:300]}"
        else:
            assert repointed.status_code == 409, repointed.text
    finally:
        lifted = _post(gw, "root", f"/datasets/{DIBAO}/unfreeze", WHY)
        assert lifted.status_code == 200, lifted.text


def test_a_source_repointed_before_the_freeze_is_held_by_it(deployment: DemoGateway) -> None:
    """Re-pointed first, the entry serves (sealed as it is now); the roll's freeze then
    holds it, as it holds the view drafted on civil's own source."""
    gw = deployment
    entry, settings = _published_on_harmless_file(gw, "before")
    assert _repoint(gw, "before", settings).status_code == 200
    assert gw.query("dora", entry, QUERY).status_code == 200
    with roll_frozen(gw):
        read = gw.query("dora", entry, QUERY)
    assert read.status_code == 423, f"the frozen roll read: {read.text[:300]}"
