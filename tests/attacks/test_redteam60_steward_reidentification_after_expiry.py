"""Red team 60, as a department's steward deciding a re-identification (red team 55's
410 on the asking, a sibling on the approving).

dora asks for the identities behind a hit of her ``payroll_on_dibao`` run while its hit
list is kept (201). The list's keeping ends. Asking now is a 410 and every read of the
list is, but fiona (finance) and carl (civil) could still approve the request: it read
``approved`` — the stewards' screen, the trail and dora told that identities were
released to her — though nothing can be (the release is the 410).

Expected: an approval of a request whose run's hit list is past its keeping is a 410,
as the asking is; the request stays pending. Both deployments.
"""

from __future__ import annotations

from tests.attacks.reidentify_steps import ask
from tests.attacks.test_redteam55_analyst_hit_list_past_its_expiry import _expire
from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"


def test_no_approval_once_the_hit_list_expired(deployment: DemoGateway) -> None:
    gw = deployment
    view = run_to_end(gw, "dora", MODEL)
    assert view["status"] == "done" and view["hits"] >= 1, view
    run_id = str(view["id"])
    request_id = ask(gw, run_id, [1], "JW-RT60-EXPIRED")
    _expire(gw, run_id)
    for steward in ("fiona", "carl"):
        decided = gw.client.post(f"/api/v1/access-requests/{request_id}/approve",
                                 headers=gw.headers(steward), json={})  # fmt: skip
        assert decided.status_code == 410, (steward, decided.status_code, decided.text)
    state = gw.client.get(f"/api/v1/access-requests/{request_id}", headers=gw.headers("dora"))
    assert state.json()["status"] == "pending", state.json()
