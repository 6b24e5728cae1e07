"""Red team 29, as an analyst (and a security officer) in the console: pages whose every
showing is an audited read were counted on nothing.

Rule (red team 22, the twenty-seventh pass): every audited call counts on the caller's
rate (``SLUICE_RATE_LIMIT``), so what one user writes to the append-only trail is
bounded by it. The API's hit-list read depends on ``audited_user``; the console's
state-changing forms count since ops31; its audited *pages* were left ("the console's
audited reads … are counted on nothing still": the audit pages, said of officers).

Attack: the least privileged role has such a page too. Dora opens her done run's page
(``GET /console/comparisons/runs/{id}``) again and again: each showing reads the hit
list through the API's handler called as a function, past its ``audited_user``, so each
is a durable, chained ``comparison_run.hits_read`` — 40 of 40 at ``10 per 5 s``. Sam's
audit page (``GET /console/audit``, an ``audit.read`` each) the same.

Expected: each such page counts on the caller's rate once per request: past it the
console answers 429 and nothing is read or recorded.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from audit.search import EventFilter, list_events
from tests.attacks.console_sign_in import console_sign_in
from tests.attacks.deployments import fresh_rate_window, rate_limited_fixture
from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

pytestmark = pytest.mark.xdist_group("rt29-console-reads")

RATE, WINDOW_S, SENT = 10, 5, 40  # SLUICE_RATE_LIMIT "10 per 5 seconds"; pages shown


gw = rate_limited_fixture("rt29-console-reads", rate=RATE, window_s=WINDOW_S)


def _count(gw: DemoGateway, type_: str, actor: str) -> int:
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type=type_, actor=actor),
                       limit=1000, order="asc")  # fmt: skip
    return len(page["items"])


def _flood(gw: DemoGateway, subject: str, path: str, type_: str) -> tuple[int, list[int], float]:
    client, _csrf = console_sign_in(gw, subject)
    fresh_rate_window(gw)  # the sign-in's own calls out of the count
    before = _count(gw, type_, subject)
    started = time.monotonic()
    statuses: list[Any] = [client.get(path).status_code for _ in range(SENT)]
    took = time.monotonic() - started
    return _count(gw, type_, subject) - before, statuses, took


def _bounded(recorded: int, statuses: list[int], took: float) -> None:
    windows = 1 + int(took // WINDOW_S)
    assert statuses.count(200) >= 1, statuses  # the page works
    assert recorded <= windows * RATE, (recorded, took, statuses)
    assert statuses.count(429) >= SENT - windows * RATE, statuses


def test_a_run_page_shown_again_and_again_is_bounded_by_the_rate(gw: DemoGateway) -> None:
    run = run_to_end(gw, "dora", "demo.payroll_on_dibao")
    assert run["status"] == "done", run
    recorded, statuses, took = _flood(gw, "dora", f"/console/comparisons/runs/{run['id']}",
                                      "comparison_run.hits_read")  # fmt: skip
    _bounded(recorded, statuses, took)


def test_the_audit_page_shown_again_and_again_is_bounded_by_the_rate(gw: DemoGateway) -> None:
    recorded, statuses, took = _flood(gw, "sam", "/console/audit", "audit.read")
    _bounded(recorded, statuses, took)
