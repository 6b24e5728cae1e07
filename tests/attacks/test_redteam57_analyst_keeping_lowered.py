"""Red team 57, analyst: a hit list outlives the keeping the deployment sets now.

Rule: ``SLUICE_COMPARISON_RUN_TTL_DAYS`` is "days a done run's hit list is kept"; a
list past it is refused (410) and dropped (red team 55). An operator who lowers it (a
data-protection officer's decision, a complaint: 30 days become 7) means the lists
kept now, not only the runs that finish from now on.

Attack: each run's ``expires_at`` was fixed when it finished, under the setting of that
day, and every read (``require_kept``, the run's ``expired``, ``purge_expired``, a
schedule's previous list) compared with that column only: after the setting went from
30 to 7 days, dora's run finished 10 days before was still served (200, ``"expired":
false``) for another 20 days. Expected: a list is kept until the earlier of its
``expires_at`` and its finish plus the keeping set now.

The gateway here keeps lists 7 days; the run is made to look as if it finished 10 days
ago under a 30-day keeping (``finished_at`` and ``expires_at``, the gateway's own
bookkeeping, moved as the days and the old setting would have). On the embedded
default and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.attacks.conftest import deployed
from tests.attacks.test_redteam55_analyst_hit_list_past_its_expiry import _stored
from tests.gateway.comparison_env import hits, run_to_end
from tests.gateway.demo_app import DemoGateway

RUNS = "/api/v1/comparison-runs"
MODEL = "demo.payroll_on_dibao"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def kept_a_week(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoGateway]:
    """The demo gateway with ``SLUICE_COMPARISON_RUN_TTL_DAYS=7``."""
    home = tmp_path_factory.mktemp(f"rt57-ttl-{request.param}")
    with deployed(request.param, home, comparison_run_ttl_days=7) as gw:
        yield gw


def _finished_days_ago(gw: DemoGateway, run_id: str, days: int, kept: int) -> None:
    finished = datetime.now(UTC) - timedelta(days=days)
    gw.sql("UPDATE comparison_runs SET finished_at = :f, expires_at = :e WHERE id = :id",
           f=finished, e=finished + timedelta(days=kept), id=run_id)  # fmt: skip


def test_a_list_past_the_keeping_set_now_is_not_served(kept_a_week: DemoGateway) -> None:
    gw = kept_a_week
    run_id = str(run_to_end(gw, "dora", MODEL)["id"])
    assert hits(gw, "dora", run_id).status_code == 200
    _finished_days_ago(gw, run_id, days=10, kept=30)
    view = gw.client.get(f"{RUNS}/{run_id}", headers=gw.headers("dora"))
    assert view.status_code == 200 and view.json()["expired"] is True, view.text[:300]
    served = hits(gw, "dora", run_id).status_code
    assert served == 410, f"a list finished 10 days ago served under a 7-day keeping: {served}"
    assert _stored(gw, run_id) == 0


def test_a_list_within_the_keeping_set_now_is_served(kept_a_week: DemoGateway) -> None:
    gw = kept_a_week
    run_id = str(run_to_end(gw, "dora", MODEL)["id"])
    _finished_days_ago(gw, run_id, days=3, kept=30)
    assert hits(gw, "dora", run_id).status_code == 200


def test_lists_past_the_keeping_set_now_are_dropped_as_runs_finish(
    kept_a_week: DemoGateway,
) -> None:
    gw = kept_a_week
    old = str(run_to_end(gw, "dora", MODEL)["id"])
    _finished_days_ago(gw, old, days=10, kept=30)
    assert run_to_end(gw, "dora", MODEL)["status"] == "done"
    assert _stored(gw, old) == 0, "a list past the keeping set now is kept"
