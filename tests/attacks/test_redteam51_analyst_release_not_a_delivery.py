"""Red team 51, as an analyst (dora): the identities a re-identification releases never
count as rows delivered to her.

Rule: every delivery is watched — ``bulk_pull`` (rows sent to one user within an hour,
high) and the subject-token rules (``same_person_many_users``: one person's records
pulled by many users in a day) count what left the gateway: a query's rows, a
comparison's matches (``audit.alert_common.delivered``, ``alert_subjects.DELIVERIES``).

Attack: a re-identification's release (``GET /comparison-runs/{id}/hits?reidentified=true``)
sends the approved hits' rows with each side's ID numbers *in clear*; it is on record as
``reidentification.released`` (one per approved case since stop 37, its ``rows`` and
``subject_tokens``), and its side reads as ``query.completed`` with ``delivered: false``
(they never left). Neither kind counted: the release's rows never reach ``bulk_pull``,
and the people it names are looked up by nobody as far as the subject-token rules know —
however often dora downloads it while the approval lasts.

Expected: the release's own record counts as a delivery (its rows toward ``bulk_pull``,
its subject tokens toward the rules by person). On the embedded default and on
PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from audit.alert_common import rule_view
from audit.alerts import AlertConfig, compute_alerts
from audit.search import EventFilter, list_events
from tests.attacks.reidentify_steps import approved
from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

CASE = "JW-RT51-RELEASE"


def _released(gw: DemoGateway, run_id: str) -> list[dict[str, Any]]:
    items = list_events(store=gw.services.audit.store, filters=EventFilter(
        type="reidentification.released", resource=f"comparison_run:{run_id}"),
        limit=100)["items"]  # fmt: skip
    return [e for e in map(rule_view, items) if e is not None]


def test_a_release_of_identities_counts_as_rows_delivered(deployment: DemoGateway) -> None:
    gw = deployment
    run = run_to_end(gw, "dora", "demo.payroll_on_dibao")
    assert run["status"] == "done" and run["hits"] >= 3, run
    approved(gw, run["id"], [1, 2, 3], CASE)
    for _ in range(2):  # downloaded twice: the identities left twice
        released = gw.client.get(
            f"/api/v1/comparison-runs/{run['id']}/hits",
            params={"reidentified": "true"},
            headers=gw.headers("dora"),
        )
        assert released.status_code == 200, released.text
    events = _released(gw, run["id"])
    assert len(events) == 2 and all(e["rows"] == 3 for e in events), events
    found = compute_alerts(events, AlertConfig(bulk_rows_per_hour=5))
    assert "bulk_pull" in [a["rule"] for a in found], (
        f"6 rows of identities sent to dora within an hour, no bulk pull: {found}"
    )
