"""Red team 50's left row (2), second half: a case approved while a release reads its
sides has a record of no rows.

Rule (stop 37, red team 45): a re-identification's release is on record under each
purpose and case its requests were approved under, one ``reidentification.released``
per case with that case's hits. The approvals are read again once the sides are read
(red team 8), and a case approved meanwhile was among them: its hits were not read, so
none was sent, yet a record under it said a release had happened.

Attack: dora's hit 1 is approved under one case; her hit 2 under another waits for
fiona; dora asks for the release, and fiona approves while the release reads civil's
side.

Expected: the answer holds hit 1 only, on record under the first case only. On the
embedded default and on PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.reidentify_steps import approve, ask, releases_under
from tests.attacks.test_redteam8_analyst_release_mid_read import release_while
from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

FIRST, LATE = "JW-S37-FIRST", "JW-S37-LATE"


def test_a_case_approved_mid_read_has_no_empty_record(deployment: DemoGateway) -> None:
    gw = deployment
    run = run_to_end(gw, "dora", "demo.payroll_on_dibao")
    assert run["status"] == "done" and run["hits"] >= 2, run
    first = ask(gw, run["id"], [1], FIRST)
    approve(gw, "carl", first)
    approve(gw, "fiona", first)
    late = ask(gw, run["id"], [2], LATE)
    approve(gw, "carl", late)
    resp = release_while(gw, run["id"], lambda: approve(gw, "fiona", late))
    assert resp.status_code == 200, resp.text
    assert [r["details"]["hit_ids"] for r in releases_under(gw, FIRST)] == [[1]]
    assert releases_under(gw, LATE) == [], "a record under a case none of whose hits was sent"
