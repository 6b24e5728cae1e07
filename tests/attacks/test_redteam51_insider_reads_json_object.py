"""Red team 51, as the catalog database's insider: an entry's ``reads`` rewritten as a
JSON *object* whose keys are the tables it read, to unlink a view from its table.

Rule (stop 37): an entry's ``datasets.reads`` (the tables its object reads) is under
its seal (``catalog.entry_seals.dataset_values``), and the grants and a freeze link a
view to its table by it (``objects.reads_alike``, ``FrozenObject.held_by``); an insider
who clears it or points it elsewhere leaves the entry unsealed (423 ``entry_unsealed``).

Attack: the seal covered ``sorted(reads)``, and ``sorted`` of a JSON object is its keys:
``{"main.dibao_recipients": 0}`` sealed as ``["main.dibao_recipients"]`` did, while the
reader (``catalog.entries._reads``) takes anything but a list as "not told" and the
entry falls back to the name rules. sam freezes the roll; the insider rewrites the
reshaped view's ``reads`` (or the frozen roll's own) so; dora reads the view.

Expected: the view is refused (423) either way; with its value written back it serves
again once the freeze is lifted. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.attacks.frozen_roll import roll_frozen
from tests.attacks.test_redteam10_steward_frozen_entry_copy import DIBAO, QUERY, _post
from tests.attacks.test_redteam45_analyst_view_codebook import draft_view
from tests.attacks.test_redteam48_analyst_reshaped_view_codebook import RESHAPED
from tests.gateway.demo_app import DemoGateway


def _stored(gw: DemoGateway, entry: str) -> str:
    with gw.services.engine.connect() as conn:
        found = conn.execute(text("SELECT CAST(reads AS TEXT) FROM datasets WHERE id = :d"),
                             {"d": entry}).scalar_one()  # fmt: skip
    assert found is not None
    return str(found)


@pytest.mark.parametrize("rewritten", ["view", "roll"])
def test_a_reads_object_does_not_unlink_a_view_from_the_frozen_roll(
    deployment: DemoGateway, rewritten: str
) -> None:
    gw = deployment
    view = draft_view(gw, f"dibao_rt51_object_{rewritten}", RESHAPED)
    assert _post(gw, "carl", f"/datasets/{view}/publish", {}).status_code == 200
    target = view if rewritten == "view" else DIBAO
    before = _stored(gw, target)
    tables = __import__("json").loads(before)
    assert "main.dibao_recipients" in tables
    forged = "{" + ", ".join(f'"{t}": 0' for t in tables) + "}"
    with roll_frozen(gw):
        gw.sql("UPDATE datasets SET reads = :v WHERE id = :d", v=forged, d=target)
        try:
            read = gw.query("dora", view, QUERY)
        finally:
            gw.sql("UPDATE datasets SET reads = :v WHERE id = :d", v=before, d=target)
        assert read.status_code == 423, f"the frozen roll read through the view: {read.text[:200]}"
    assert gw.query("dora", view, QUERY).status_code == 200
