"""The twenty-seventh pass's left row, as an analyst in the console: successful audited
actions posted through the console's forms were counted on nothing.

The API's audited calls count on the user's rate (``audited_user``, 429 past it); the
console's state-changing forms (access requests, approvals, password changes…) did not,
so alice, signed in to the console, filed access requests through ``POST
/console/requests`` as fast as the gateway answered: each one a durable, chained
``access.requested`` event (red team 22's threat: the trail no one may shrink filled at
the network's speed).

Expected: every state-changing console form counts on the user's rate, as the API's
calls do: past it the form is answered 429 and nothing is done or recorded.
"""

from __future__ import annotations

import time
from typing import Any

from tests.attacks.console_sign_in import console_sign_in
from tests.attacks.deployments import fresh_rate_window, rate_limited_fixture, recorded_by
from tests.gateway.demo_app import DemoGateway

RATE, WINDOW_S, SENT = 10, 5, 40  # SLUICE_RATE_LIMIT "10 per 5 seconds"; forms posted


gw = rate_limited_fixture("console-flood", rate=RATE, window_s=WINDOW_S)


def _asked(gw: DemoGateway) -> list[dict[str, Any]]:
    return recorded_by(gw, "access.requested", "alice")


def test_access_requests_filed_through_the_console_are_bounded_by_the_rate(
    gw: DemoGateway,
) -> None:
    client, csrf = console_sign_in(gw, "alice")
    fresh_rate_window(gw)  # the sign-in's own calls out of the count
    before = len(_asked(gw))
    started = time.monotonic()
    statuses = []
    for i in range(SENT):
        answer = client.post("/console/requests", headers={"X-CSRF-Token": csrf}, data={
            "csrf_token": csrf, "dataset": "civil.dibao_recipients", "fields": "phone",
            "purpose": "supervision", "case_ref": f"JW-CONSOLE-FLOOD-{i}",
            "justification": "x", "days": "5"})  # fmt: skip
        statuses.append(answer.status_code)
    took = time.monotonic() - started
    windows = 1 + int(took // WINDOW_S)
    recorded = len(_asked(gw)) - before
    assert recorded >= 1, statuses  # the form works
    assert recorded <= windows * RATE, (recorded, took, statuses)
    assert statuses.count(429) >= SENT - windows * RATE, statuses
