"""Red team 24, as the database insider (the audit store's owner), against the officer.

The insider erases the newest audit events before any checkpoint or witness covers
them (triggers bypassed: dropped on SQLite, disabled on PostgreSQL). The writer, whose
head went back under it, seals the trail at its next append ("chain head went back").
The security officer then asks the gateway whether the trail verifies:
``GET /api/v1/audit/verify`` and the console's verify page.

Before: ``{"ok": true}`` and "verified" on the console — the chain left is internally
consistent and no witness saw the erased events, so verification of what is stored
passes; the route never said the trail was sealed (``sluice audit verify`` does: ok
false, ``sealed``). An officer reading that the trail verifies takes the seal for a
false alarm. Now the route, as the command, answers ok false with the seal's reason
while the trail is sealed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.errors import Unavailable
from tests.attacks.console_sign_in import console_sign_in
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_insider_audit import _append, _insider, _scalar, _status
from tests.gateway.demo_app import DemoGateway


@pytest.fixture(params=KINDS)
def quiet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoGateway]:
    """No checkpoint for a minute: the newest events are covered by nothing yet."""
    with open_deployment(request.param, tmp_path / "home", db_prefix="sluice_rt24_ver",
                         audit_checkpoint_seconds=60.0, audit_checkpoint_every=100_000,
                         audit_monitor_seconds=0.2) as gw:  # fmt: skip
        yield gw


def test_verify_does_not_say_ok_while_the_trail_is_sealed(quiet: DemoGateway) -> None:
    gw = quiet
    console, csrf = console_sign_in(gw, "sam")  # before: a sign-in is an event
    _append(gw, 5)
    head = int(_scalar(gw, "SELECT max(seq) FROM audit_events"))
    _insider(gw, f"DELETE FROM audit_events WHERE seq > {head - 3}")
    with pytest.raises(Unavailable, match="went back"):  # the writer's head went back
        _append(gw, 1)
    deadline = time.monotonic() + 10
    while not _status(gw)["sealed"]:
        assert time.monotonic() < deadline, "the erasure did not seal the trail"
        time.sleep(0.05)

    verdict = gw.client.get("/api/v1/audit/verify", headers=gw.headers("sam"))
    assert verdict.status_code == 200, verdict.text
    body = verdict.json()
    assert body["ok"] is False, f"the officer was told a sealed trail verifies: {body}"
    assert body["sealed"] is True and "went back" in body["seal_reason"], body

    page = console.post("/console/audit/verify", data={"csrf_token": csrf, "from": "", "to": ""})
    assert page.status_code == 200, page.text
    assert 'class="ok"' not in page.text and re.search(r"went back", page.text), page.text
