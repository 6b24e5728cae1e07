"""Red team 48, as civil's steward (with its database administrator): an entry a freeze
holds is refreshed out of the freeze's reach while it stands.

Rule (red team 45): a freeze of the dibao roll holds an entry over a view of its table
(its fields among the roll's, one personal: ``objects.shows_part_of``), and no such
entry is published while the freeze stands (409). A view that adds a column is not
held — red team 45 left that for views made so from the start.

Attack: carl's entry over ``SELECT * FROM dibao_recipients`` is published before the
freeze and held by it (423). During the freeze civil's administrator redefines the view
with one more, harmless column (``'civil' AS team``) and carl refreshes the entry's
schema: its fields are no longer all among the roll's, and dora reads the frozen rows
through it.

Expected: an entry the freeze holds is not refreshed out of it (409) while the freeze
stands, or stays refused (423). On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from tests.attacks.test_redteam10_steward_frozen_entry_copy import DIBAO, QUERY, WHY, _post
from tests.attacks.test_redteam45_analyst_view_codebook import civil_database, publish_view
from tests.gateway.demo_app import DemoGateway

VIEW = "dibao_rt48_refreshed"


def _redefine(gw: DemoGateway) -> None:
    with sqlite3.connect(civil_database(gw)) as db:
        db.execute(f"DROP VIEW {VIEW}")
        db.execute(f"CREATE VIEW {VIEW} AS SELECT *, 'civil' AS team FROM dibao_recipients")


@contextmanager
def frozen_roll(gw: DemoGateway, view: str) -> Iterator[None]:
    """sam freezes the roll (``view`` refused by it), root lifts it afterwards."""
    assert _post(gw, "sam", f"/datasets/{DIBAO}/freeze", WHY).status_code == 200
    try:
        assert gw.query("dora", view, QUERY).status_code == 423
        yield
    finally:
        lifted = _post(gw, "root", f"/datasets/{DIBAO}/unfreeze", WHY)
        assert lifted.status_code == 200, lifted.text


def test_a_held_entry_is_not_refreshed_out_of_the_freeze(deployment: DemoGateway) -> None:
    gw = deployment
    view = publish_view(gw, VIEW)
    with frozen_roll(gw, view):
        _redefine(gw)
        refreshed = _post(gw, "carl", f"/datasets/{view}/refresh", {})
        read = gw.query("dora", view, QUERY)
    assert refreshed.status_code == 409 or read.status_code == 423, (
        f"refresh {refreshed.status_code}, then the frozen roll read through the view: "
        f"{read.status_code}"
    )


PERSONAL = ("id_number", "name", "phone", "address")


def test_the_frozen_entry_is_not_made_impersonal_to_free_its_views(
    deployment: DemoGateway,
) -> None:
    """carl edits the *frozen* roll during the freeze: every field no PI category (what
    the view rule reads as "personal" there), then dora queries the view."""
    gw = deployment
    view = publish_view(gw, "dibao_rt48_impersonal")
    with frozen_roll(gw, view):
        edited = gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"),
                                 json={"fields": {n: {"pi_category": "none"}
                                                  for n in PERSONAL}})  # fmt: skip
        read = gw.query("dora", view, QUERY)
    assert edited.status_code == 409 or read.status_code == 423, (
        f"edit {edited.status_code}, then the frozen roll read through the view: {read.status_code}"
    )
