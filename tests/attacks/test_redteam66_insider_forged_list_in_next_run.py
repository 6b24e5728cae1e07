"""Red team 66, as a catalog database insider: a scheduled run's previous hit list
rewritten behind the gateway, laundered into the next run's changes.

A stored hit list is served only as its run's completion on the trail names it
(``run_service.stored_as_recorded``, red team 2): a list rewritten behind the gateway is
``hits_tampered`` (409). But a scheduled run is compared with its schedule's previous
run (``scheduled.compare_with_previous``) by reading that run's stored bytes as they
are, and what the comparison finds — the gone hits' tokens, which hits are new — is
sealed into the *new* run's completion (``view_digests``): a forged previous list became
vouched-for changes of a genuine run.

Attack: alice's schedule runs once; the insider adds a row to that list (a token no run
found) and updates its SHA-256 column; the schedule runs again; alice reads the second
run's ``…/disappeared`` and its view.

Expected: a previous list its completion does not vouch for is no previous list (all
hits new, nothing gone), as one past its keeping (red team 57). On the embedded default
and on PostgreSQL.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
from sqlalchemy import text

from gateway.enforcement.comparison.run_store import ipc_bytes, read_ipc
from gateway.enforcement.comparison.spec import KEY_COLUMN
from tests.attacks.scheduled_runs import disappeared, first_scheduled_run, gw, next_scheduled_run
from tests.gateway.comparison_env import hits
from tests.gateway.demo_app import DemoGateway

__all__ = ["gw"]  # the shared fixture
FORGED = "tk_" + "0f" * 12


def _add_forged_row(gw: DemoGateway, run_id: str) -> None:
    with gw.services.engine.connect() as conn:
        data = conn.execute(text("SELECT data FROM comparison_run_results WHERE run_id = :r"),
                            {"r": run_id}).scalar_one()  # fmt: skip
    table = read_ipc(bytes(data))
    extra = table.slice(0, 1).to_pylist()[0]
    extra[KEY_COLUMN] = FORGED
    forged = pa.concat_tables([table, pa.Table.from_pylist([extra], schema=table.schema)])
    out = ipc_bytes(forged)
    gw.sql("UPDATE comparison_run_results SET data = :d, sha256 = :s WHERE run_id = :r",
           d=out, s=hashlib.sha256(out).hexdigest(), r=run_id)  # fmt: skip


def test_a_forged_previous_list_is_not_laundered_into_the_next_runs_changes(
    gw: DemoGateway,
) -> None:
    schedule, first = first_scheduled_run(gw, "JW-RT66-FORGED")
    _add_forged_row(gw, first)
    assert hits(gw, "alice", first).status_code == 409  # red team 2's check: held
    second, view = next_scheduled_run(gw, schedule)
    assert view["status"] == "done", view
    assert FORGED not in str(disappeared(gw, second)), (
        "the insider's token served as a vouched change"
    )
    assert view["previous_run"] is None, f"compared with the forged list of {first}"
