"""Red team 2, as an analyst: two changes of one lead at once (ATTACKS.md: concurrency).

``PATCH /api/v1/comparison-runs/{id}/hits/{n}`` read the lead, appended its event and
then wrote it: two PATCHes of a still-open hit (two tabs, a double click, the console
and the API) both read "open", both put "lead updated" on the trail, and the second
insert hit the primary key — a 500, with an event on record for a change that never
happened. Each change must either apply or be refused (409, on record), never a 500,
and the next change must read what the winner left.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import Any

from tests.gateway.comparison_env import events, run_to_end
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"


def test_two_changes_of_one_open_lead_at_once(deployment: DemoGateway) -> None:
    gw = deployment
    view = run_to_end(gw, "dora", MODEL)
    assert view["status"] == "done" and view["hits"] >= 1, view
    run_id = view["id"]
    url = f"/api/v1/comparison-runs/{run_id}/hits/1"

    audit = gw.services.audit
    original = audit.append
    both = threading.Barrier(2, timeout=5)

    def held_append(event: Mapping[str, Any]) -> Any:
        if event.get("type") == "comparison_run.lead_updated":
            # both requests have read the lead before either writes
            with contextlib.suppress(threading.BrokenBarrierError):
                both.wait()
        return original(event)

    results: dict[str, Any] = {}

    def patch(state: str) -> None:
        results[state] = gw.client.patch(url, json={"state": state, "note": state},
                                         headers=gw.headers("dora"))  # fmt: skip

    audit.append = held_append
    try:
        threads = [threading.Thread(target=patch, args=(s,))
                   for s in ("confirmed", "false_positive")]  # fmt: skip
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        audit.append = original
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409], {s: (r.status_code, r.text) for s, r in results.items()}
    applied = next(s for s, r in results.items() if r.status_code == 200)
    lost = next(s for s, r in results.items() if r.status_code == 409)
    assert results[lost].json()["code"] == "conflict"
    final = gw.client.get(f"/api/v1/comparison-runs/{run_id}/hits",
                          headers=gw.headers("dora")).json()  # fmt: skip
    row = next(r for r in final["rows"] if r["hit_id"] == 1)
    assert (row["state"], row["note"]) == (applied, applied)
    # the change that lost is on record as refused right after its event (as an access
    # request's lost decision is): the trail tells which of the two events applied
    refused = [
        e
        for e in events(gw, types=("request.refused",))
        if e["details"].get("path") == url and e["details"].get("status") == 409
    ]
    assert refused, "the lost change is not on record as refused"
    # a later change reads the state the winner left
    again = gw.client.patch(url, json={"state": lost}, headers=gw.headers("dora"))
    assert again.status_code == 200, again.text
    recorded = events(gw, run_id=run_id, types=("comparison_run.lead_updated",))
    assert recorded[-1]["details"]["previous_state"] == applied
