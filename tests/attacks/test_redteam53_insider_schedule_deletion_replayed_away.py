"""Red team 53, as a database insider with the catalog owner's rights: a schedule's
deletion made on a row the insider had unsealed, then written away by putting the row
back.

Rule (red team 21, ``test_insider_replay_sources_models``): a schedule its owner deleted
runs nothing again; its deletion binds it ``removed`` on the trail, so its row from
before, written back, is no current state.

Attack: the sibling of the freeze, suspension and revocation put back
(``test_redteam53_insider_freeze_replayed_away``). alice's schedule has run once; the
insider edits a sealed value of its row (``every``): it is refused as unsealed, and
alice deletes it (200). A write to a row whose loaded state does not verify is neither
sealed nor bound (``row_trail._changed``), so the trail's newest binding is still the
schedule's live state; the insider writes that row back, due now.

Expected: the clock's next trigger of it is refused (``schedule_unsealed``), not a run
in alice's name. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from tests.attacks import test_insider_model_schedule_seals as schedule_seals
from tests.attacks.test_insider_model_schedule_seals import (
    MODEL,
    _refused_unsealed,
    _scheduled,
    _triggered,
)
from tests.attacks.test_insider_replay_sources_models import PAST, SCHEDULE_ROW, _update_back
from tests.attacks.test_insider_row_replay import _rows
from tests.gateway.demo_app import DemoGateway

clocked = schedule_seals.clocked  # a deployment whose scheduler ticks every second


def test_a_deletion_of_an_unsealed_schedule_is_not_written_away(clocked: DemoGateway) -> None:
    gw = clocked
    schedule_id = _scheduled(gw, "alice", "daily")
    assert "run" in _triggered(gw, schedule_id)["details"]  # it ran; next due tomorrow
    saved = _rows(gw, SCHEDULE_ROW, i=schedule_id)[0]
    gw.sql("UPDATE comparison_schedules SET every = 'weekly' WHERE id = :i", i=schedule_id)
    gone = gw.client.delete(f"/api/v1/comparison-models/{MODEL}/schedules/{schedule_id}",
                            headers=gw.headers("alice"))  # fmt: skip
    assert gone.status_code == 200, gone.text
    _update_back(gw, "comparison_schedules", {**saved, "next_due_at": PAST})
    _refused_unsealed(gw, _triggered(gw, schedule_id, after=1))
