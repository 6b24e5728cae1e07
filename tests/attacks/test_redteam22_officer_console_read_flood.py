"""The twenty-seventh pass's left row, as a security officer in the console: the audit
pages' reads were counted on nothing.

Every read of the trail is itself on record (``audit.read``: audit the auditor, before
the answer leaves). The API's reads count on the reader's rate (``audited_user``, 429
past it), and since ops31 so do the console's forms (``csrf_form``); the console's
audited pages — the timeline, an event's page, the charts' data, the alerts, the home
page's open alerts — did not. sam, signed in, reloaded them as fast as the gateway
answered: each a durable chained event (red team 22's threat: the trail no one may
shrink, filled at the network's speed), a full page read of the trail each.

Expected: every console request that puts a record on the trail counts once on the
caller's rate, as the API's calls do: past it the page is answered 429 and nothing is
read or recorded.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.attacks.console_sign_in import console_sign_in
from tests.attacks.deployments import rate_limited_fixture, recorded_by
from tests.gateway.demo_app import DemoGateway

RATE, WINDOW_S, SENT = 10, 5, 40  # SLUICE_RATE_LIMIT "10 per 5 seconds"; pages asked
PAGES = ["/console/audit", "/console/audit/events/1", "/console/audit/charts.json",
         "/console/audit/alerts", "/console"]  # fmt: skip


gw = rate_limited_fixture("console-read-flood", rate=RATE, window_s=WINDOW_S)


def _reads(gw: DemoGateway) -> list[dict[str, Any]]:
    return recorded_by(gw, "audit.read", "sam")


@pytest.mark.parametrize("path", PAGES)
def test_the_officers_audit_pages_are_bounded_by_the_rate(gw: DemoGateway, path: str) -> None:
    client, _csrf = console_sign_in(gw, "sam")
    time.sleep(WINDOW_S)  # the sign-in's own calls (and the last flood) out of the window
    before = len(_reads(gw))
    started = time.monotonic()
    statuses = [client.get(path).status_code for _ in range(SENT)]
    took = time.monotonic() - started
    windows = 1 + int(took // WINDOW_S)
    recorded = len(_reads(gw)) - before
    assert recorded >= 1, statuses  # the page is read, and on record
    assert recorded <= windows * RATE, (path, recorded, took, statuses)
    assert statuses.count(429) >= SENT - windows * RATE, statuses
    assert set(statuses) <= {200, 429}, statuses
