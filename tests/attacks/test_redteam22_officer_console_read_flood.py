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
from collections.abc import Callable
from typing import Any

import pytest

from tests.attacks.console_sign_in import console_sign_in
from tests.attacks.deployments import fresh_rate_window, rate_limited_fixture, recorded_by
from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

RATE, WINDOW_S, SENT = 10, 5, 40  # SLUICE_RATE_LIMIT "10 per 5 seconds"; pages asked
PAGES = ["/console/audit", "/console/audit/events/1", "/console/audit/charts.json",
         "/console/audit/alerts", "/console"]  # fmt: skip


gw = rate_limited_fixture("console-read-flood", rate=RATE, window_s=WINDOW_S)


def _reads(gw: DemoGateway) -> list[dict[str, Any]]:
    return recorded_by(gw, "audit.read", "sam")


@pytest.mark.parametrize("path", PAGES)
def test_the_officers_audit_pages_are_bounded_by_the_rate(gw: DemoGateway, path: str) -> None:
    _flood(gw, "sam", path, lambda: _reads(gw))


def test_an_analysts_run_page_is_bounded_by_the_rate(gw: DemoGateway) -> None:
    """A run's page reads its hit list (``comparison_run.hits_read``), as the API's
    ``GET /api/v1/comparison-runs/{id}/hits`` does."""
    fresh_rate_window(gw)  # the last flood out of the count
    run = run_to_end(gw, "alice", "demo.payroll_on_dibao")
    assert run["status"] == "done", run
    _flood(gw, "alice", f"/console/comparisons/runs/{run['id']}",
           lambda: recorded_by(gw, "comparison_run.hits_read", "alice"))  # fmt: skip


def _flood(gw: DemoGateway, subject: str, path: str,
           recorded: Callable[[], list[dict[str, Any]]]) -> None:  # fmt: skip
    """``subject`` asks for ``path`` ``SENT`` times in the console: at most the rate's
    worth are read and on record, the rest 429."""
    client, _csrf = console_sign_in(gw, subject)
    fresh_rate_window(gw)  # the sign-in's own calls (and the last flood) out of the count
    before = len(recorded())
    started = time.monotonic()
    statuses = [client.get(path).status_code for _ in range(SENT)]
    took = time.monotonic() - started
    windows = 1 + int(took // WINDOW_S)
    done = len(recorded()) - before
    assert done >= 1, statuses  # the page is read, and on record
    assert done <= windows * RATE, (path, done, took, statuses)
    assert statuses.count(429) >= SENT - windows * RATE, statuses
    assert set(statuses) <= {200, 429}, statuses
