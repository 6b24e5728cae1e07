"""Red team 57, analyst: an expired hit list read through the schedule's next run.

Rule: a done run's hit list is kept ``SLUICE_COMPARISON_RUN_TTL_DAYS`` (30) days; past
that it is refused (410) and dropped (red team 55). A scheduled run compares its hits
with the previous run's (``scheduled.compare_with_previous``: which hits are new, the
gone hits' case-keyed tokens, served by ``…/disappeared`` and the hit list's ``new``
column), and "the first run (or the previous list expired): all are new".

Attack: an expired list is dropped only when read or when a run *finishes*
(``RunStore.done`` purges after the comparison), so a schedule that runs less often
than the keeping (``monthly`` beside the default 30 days) finds the previous run's list
past its expiry but still stored, and compares with it: the new run names the expired
run as its previous one, flags none of the expired list's hits as new (which hits it
held) and copies the expired list's gone hits' tokens into its own ``disappeared``,
served for another 30 days. Expected: a previous list past its keeping is no previous
list (all hits new, nothing gone).

Time is moved as in red team 55's test (the run's ``expires_at`` put in the past, the
schedule made due again); one person leaves the roll in between so the expired list
has a gone hit. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.attacks.scheduled_runs import disappeared, first_scheduled_run, gw, next_scheduled_run
from tests.gateway.demo_app import DemoGateway
from tests.gateway.stewardship.test_comparison_schedules import _hits, _id_at, _row_of, _sql_civil

__all__ = ["gw"]  # the shared fixture


def test_the_next_scheduled_run_is_not_compared_with_an_expired_list(gw: DemoGateway) -> None:
    schedule, first = first_scheduled_run(gw, "JW-SCHED-1")
    gone = _hits(gw, first)[0]
    row = _row_of(gw, gone["key_token"])
    _sql_civil(gw, "DELETE FROM dibao_recipients WHERE id_number = ?", (row[_id_at(gw)],))
    # thirty days on: the first list is past its keeping, the schedule due again
    gw.sql("UPDATE comparison_runs SET expires_at = :past WHERE id = :id",
           past=datetime.now(UTC) - timedelta(minutes=1), id=first)  # fmt: skip
    second, view = next_scheduled_run(gw, schedule)
    assert view["status"] == "done" and view["hits"] > 0, view
    assert gone["key_token"] not in str(disappeared(gw, second)), (
        "the expired list's gone hit is served by the next run's changes"
    )
    assert view["previous_run"] is None, f"compared with the expired run {first}"
    assert view["new_hits"] == view["hits"] and view["disappeared"] == 0, view
