"""Red team 66, as a steward who moves an entry's jurisdiction to another column between
two runs of an analyst's schedule (the changes' sibling of red team 65's stored row).

Red team 65: a stored hit list records the column each side's jurisdiction was matched
on, and a read is refused (403, "run the model again") once the entry's region field is
another (``scheduled.check_matched_on``). But a scheduled run is compared with its
schedule's previous run (``scheduled.compare_with_previous``): the gone hits' case-keyed
tokens are copied into the new run's ``disappeared`` (served by ``…/disappeared``: "the
gone hits' tokens name people") and its ``new`` flags say which of its hits the previous
list held. The new run was read on the new column, so its own read passes the check,
while what it carries of the previous list — rows matched on the old column — is that
list's content, refused when read directly.

Attack: alice schedules ``demo.payroll_on_dibao`` in her county; the first run stores
its hits; carl (civil's steward) sets the dibao roll's region field to ``address``
(``PATCH /api/v1/datasets/{id}``); the schedule runs again (due).

Expected: a previous run whose sides were matched on another column is no previous list
for the comparison (all hits new, nothing gone), as one past its keeping (red team 57).
On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.scheduled_runs import disappeared, first_scheduled_run, gw, next_scheduled_run
from tests.gateway.comparison_env import hits
from tests.gateway.demo_app import DemoGateway
from tests.gateway.stewardship.test_comparison_schedules import _hits

__all__ = ["gw"]  # the shared fixture
ROLL = "civil.dibao_recipients"


def test_a_scheduled_run_is_not_compared_with_a_list_matched_on_another_column(
    gw: DemoGateway,
) -> None:
    schedule, first = first_scheduled_run(gw, "JW-RT66-SCHED")
    tokens = {h["key_token"] for h in _hits(gw, first)}
    moved = gw.client.patch(f"/api/v1/datasets/{ROLL}", json={"region_field": "address"},
                            headers=gw.headers("carl"))  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert hits(gw, "alice", first).status_code == 403  # red team 65's fix: held
    second, view = next_scheduled_run(gw, schedule)
    assert view["status"] == "done", view
    served = {g["key_token"] for g in disappeared(gw, second)["disappeared"]}
    assert not served & tokens, (
        f"{len(served & tokens)} tokens of the list matched on the old column served "
        "by the next run's changes"
    )
    assert view["previous_run"] is None, f"compared with {first}, matched on another column"
    assert view["new_hits"] == view["hits"] and view["disappeared"] == 0, view
