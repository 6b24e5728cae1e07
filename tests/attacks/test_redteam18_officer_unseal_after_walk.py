"""As a security officer and an admin: unsealing after the monitor's walk found a hole.

The walk of the chain between checkpoints (``audit.sweep``) seals on an event deleted
below the head. Two people then export the evidence and unseal: the chain continues
from the head as found, the loss accepted on record (``audit.unseal``). But the walk
met the same hole at its next step and sealed again, and again after every unseal: a
gateway whose trail once lost a row in the middle could never serve again. Red team 18.
The unseal now names each failure below its anchor; the walk holds the events below it
to their number then and passes over those failures only, so a further deletion or an
edit there still seals.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_insider_audit import (
    DIBAO,
    INTERVAL_S,
    QUERY,
    _insider,
    _scalar,
    _status,
    _unseal_with_two_people,
    _until,
)
from tests.gateway.demo_app import DemoGateway

SEQ = 5  # an event in the middle of the trail


@pytest.fixture(scope="module", params=KINDS)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoGateway]:
    home = tmp_path_factory.mktemp(f"unseal-after-walk-{request.param}")
    with open_deployment(request.param, home, audit_checkpoint_seconds=INTERVAL_S,
                         audit_monitor_seconds=INTERVAL_S) as gw:  # fmt: skip
        # a step of the walk every tick or two (production: at most 2% of a core, so a
        # step every few seconds here): the waits below are on steps that did run
        gw.services.audit.monitor.sweep.duty = 0.5
        yield gw


def test_an_unsealed_gap_does_not_seal_again(deployment: DemoGateway) -> None:
    gw = deployment
    for _ in range(8):
        assert gw.query("arthur", DIBAO, QUERY).status_code == 200
    _insider(gw, f"DELETE FROM audit_events WHERE seq = {SEQ}")
    _until(lambda: bool(_status(gw)["sealed"]), "the walk seals on the hole")
    assert "gap" in str(_status(gw)["reason"])

    anchor = int(_scalar(gw, "SELECT coalesce(max(seq), 0) FROM audit_events"))
    _unseal_with_two_people(gw, anchor)
    until = time.monotonic() + 12 * INTERVAL_S  # several ticks, each with a step of the walk
    while time.monotonic() < until:
        status = _status(gw)
        assert not status["sealed"], f"sealed again after the unseal: {status['reason']}"
        time.sleep(INTERVAL_S / 2)
    assert gw.query("arthur", DIBAO, QUERY).status_code == 200

    # the officer's routine verification of the whole trail names the accepted hole
    # first, ever after: that is no new evidence
    verified = gw.client.get("/api/v1/audit/verify", headers=gw.headers("sam"))
    assert verified.status_code == 200, verified.text
    assert verified.json()["first_bad_seq"] == SEQ
    assert not _status(gw)["sealed"], _status(gw)["reason"]

    # what was accepted is the hole as it was: an event below the anchor edited after the
    # unseal still seals (the walk passes over the accepted hole only)
    _insider(gw, f"UPDATE audit_events SET body = replace(body, '\"seq\"', '\"seq\" ') "
                 f"WHERE seq = {SEQ + 2}")  # fmt: skip
    _until(lambda: bool(_status(gw)["sealed"]), "the walk seals on an edit below the anchor")
    assert f"at seq {SEQ + 2}" in str(_status(gw)["reason"])
