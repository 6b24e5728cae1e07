"""Red team 13, anonymous: on a gateway of several processes, the console's sign-in
tells a name an account holds from one none holds again.

Red team 10's fix (f2c8e7b) counts a name no account holds as an account's failures are
counted, so both answer "locked" after ``SLUICE_CONSOLE_MAX_FAILURES`` — but an
account's failures are in the catalog database, shared by every process, and an
unknown name's were in the memory of the process that answered
(``runtime.UnknownNames``). The production guide runs ``sluice serve --workers 4`` on
several replicas behind a proxy, sharing one database and one Redis: five wrong
passwords for ``carl`` lock him (403) wherever they land, while five for a name nobody
holds, spread over the processes, leave each below the threshold (401) — the oracle
red team 10 closed, open again wherever more than one process answers.

Expected: an unknown name's failures are counted where the gateway's other limits are
(the limits store: Redis when configured, shared by every process and replica), so the
answers are the same for both names whichever process takes each attempt.

Here two gateway processes are two apps over one home, one catalog and one Redis, the
attempts alternating between them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.web.app import create_app
from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from gateway.wiring.container import build_services
from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.demo_app import DemoGateway

_PRE = re.compile(r'name="csrf_token" value="([^"]+)"')
REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=KINDS)
def two_processes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[DemoGateway, TestClient]]:
    with open_deployment(request.param, tmp_path / "home", redis_url=REDIS) as gw:
        services = build_services(gw.settings)
        try:
            yield gw, TestClient(create_app(gw.settings, services), follow_redirects=False)
        finally:
            services.close()


def _try(client: TestClient, subject: str) -> Any:
    token = _PRE.search(client.get("/console/sign-in").text)
    assert token is not None
    return client.post("/console/sign-in", data={
        "csrf_token": token.group(1), "username": subject,
        "password": "wrong-password-13"})  # fmt: skip


def test_an_unknown_name_locks_across_processes(
    two_processes: tuple[DemoGateway, TestClient],
) -> None:
    gw, other = two_processes
    first = TestClient(gw.client.app, follow_redirects=False)
    console: Console = gw.client.app.state.console  # type: ignore[attr-defined]
    set_demo_passwords(console.accounts, ["carl"])
    limit = console.settings.max_failures
    nobody = f"nobody-{uuid.uuid4().hex[:10]}"
    answers: dict[str, list[int]] = {}
    for name in ("carl", nobody):
        answers[name] = [_try((first, other)[i % 2], name).status_code
                         for i in range(limit + 1)]  # fmt: skip
    assert answers["carl"] == answers[nobody], answers
    assert answers["carl"][-1] == 403, answers
