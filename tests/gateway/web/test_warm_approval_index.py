"""``SLUICE_WARM_APPROVAL_INDEX``: the app's start catches the approval checks' index of
the trail up in a background thread, so the first approval after a restart does not
walk the trail on its own request (``audit.follow_snapshot``); off by default."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.stewardship.grants.trail_facts import ApprovalFacts
from gateway.stewardship.users.chosen_passwords import PasswordSetters
from gateway.web.console.password_events import PasswordEvents
from tests.audit.helpers import event
from tests.gateway.demo_app import DemoGateway, demo_gateway


def test_the_start_warms_the_index(tmp_path: Path) -> None:
    with demo_gateway(tmp_path / "home", warm_approval_index=True) as gw:
        for n in range(3):
            gw.services.audit.append(event(n))
        with gw.client:  # the app's lifespan: its start
            _caught_up(gw)


def _caught_up(gw: DemoGateway) -> None:
    """Each index the first approval or console request reads, caught up without one."""
    for kind in (ApprovalFacts, PasswordEvents, PasswordSetters):
        follower = gw.services.audit.followers.of(kind)
        deadline = time.monotonic() + 30
        while follower.seq < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert follower.seq == 3, f"{kind.__name__} was not caught up at the start"
