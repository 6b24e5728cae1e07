"""Red team 55, analyst: a run's hit list is served after its expiry, for ever.

Rule: a done run's hit list is kept ``SLUICE_COMPARISON_RUN_TTL_DAYS`` (30) days — "days
a done run's hit list is kept (its counts and leads stay)"; the run shows its
``expires_at``, and an expired list is a 410 ("run the model again"). The hit list
names people (case-keyed tokens of their ID numbers, the side fields the model keeps),
so its retention is the bound on how long a comparison's output outlives its purpose.

Attack: nothing ever dropped a hit list. ``RunStore.purge_expired`` was written with the
runs (issue 15) and called by nothing, and a read looked only for the stored bytes: past
``expires_at`` dora's run still said ``"expired": false`` and served its hits (200), the
scheduled run's changes (``…/disappeared``: the previous run's gone hits by token) too.

Time is moved on here by putting the run's ``expires_at`` in the past, as 30 days would
(the column is the gateway's own bookkeeping: the run's completion on the trail does not
name it). Expected: the hits and the changes are 410, the run's view says expired, and
the stored list is dropped. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.attacks.test_redteam3_analyst_run_jurisdiction import _scheduled_run
from tests.gateway.comparison_env import hits, run_to_end
from tests.gateway.demo_app import DemoGateway

RUNS = "/api/v1/comparison-runs"
MODEL = "demo.payroll_on_dibao"


def _expire(gw: DemoGateway, run_id: str) -> None:
    """The run's keeping over, as its days passing would make it."""
    gw.sql("UPDATE comparison_runs SET expires_at = :past WHERE id = :id",
           past=datetime.now(UTC) - timedelta(minutes=1), id=run_id)  # fmt: skip


def _stored(gw: DemoGateway, run_id: str) -> int:
    with gw.services.engine.connect() as conn:
        found = conn.execute(text("SELECT count(*) FROM comparison_run_results WHERE "
                                  "run_id = :id"), {"id": run_id}).scalar()  # fmt: skip
    return int(found or 0)


def test_a_hit_list_past_its_expiry_is_not_served(deployment: DemoGateway) -> None:
    gw = deployment
    run_id = str(_scheduled_run(gw)["id"])
    assert hits(gw, "dora", run_id).status_code == 200
    _expire(gw, run_id)
    served = {fmt: hits(gw, "dora", run_id, fmt).status_code for fmt in ("json", "csv")}
    changes = gw.client.get(f"{RUNS}/{run_id}/disappeared", headers=gw.headers("dora"))
    view = gw.client.get(f"{RUNS}/{run_id}", headers=gw.headers("dora"))
    assert served == {"json": 410, "csv": 410}, served
    assert changes.status_code == 410, changes.text[:300]
    assert view.status_code == 200 and view.json()["expired"] is True, view.text[:300]
    assert _stored(gw, run_id) == 0, "the expired hit list is still stored"


def test_an_expired_hit_list_is_dropped_as_other_runs_finish(deployment: DemoGateway) -> None:
    gw = deployment
    old = str(run_to_end(gw, "dora", MODEL)["id"])
    _expire(gw, old)
    assert run_to_end(gw, "dora", MODEL)["status"] == "done"
    assert _stored(gw, old) == 0, "an expired hit list nobody reads is kept for ever"
