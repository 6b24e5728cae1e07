"""Red team 23, as whoever answers the alert mail (the mail relay, or a host on the way
to it): answer each connection a byte at a time.

Red team 22 bounded a webhook push as a whole (``catalog.http_deadline``): a receiver
that trickled its answer held the one push thread, and every channel's alerts behind
it. The mail channel is the same thread's other half: ``smtplib``'s timeout bounds each
socket read, so a relay that sends its greeting a byte every half second for half a
minute never failed a push, and the webhook's alerts waited behind every mail (each
alert's mail, every retry) for as long as the relay liked.

Expected: a mail push fails at its bound (retried, as a relay that is down) and the
webhook of alice's ``repeated_denials`` alert arrives within seconds.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_redteam22_webhook_trickle import PUSH_BOUND_S, Trickle
from tests.audit.receivers import Webhook, webhook_receiver
from tests.gateway.demo_app import DemoGateway


class TrickleRelay(Trickle):
    """An SMTP server (red team 22's trickling listener) that sends its greeting a byte
    every half second; ``pushes`` counts its connections."""

    def __init__(self) -> None:
        super().__init__()
        self.port = self.listener.getsockname()[1]

    def _opening(self, conn: socket.socket, steps: int) -> None:
        conn.sendall(b"220")  # then a byte every half second: a greeting never ended


MAIL = {"alert_smtp_host": "127.0.0.1", "alert_smtp_from": "sluice@example.org",
        "alert_smtp_to": ["officers@example.org"], "alert_smtp_starttls": False,
        "alert_eval_seconds": 0.5, "alert_push_backoff_seconds": 0.2,
        "alert_push_timeout_seconds": PUSH_BOUND_S}  # fmt: skip


@pytest.fixture(scope="module", params=KINDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[DemoGateway, TrickleRelay, Webhook]]:  # fmt: skip
    relay, kind = TrickleRelay(), request.param
    with webhook_receiver() as hook, open_deployment(
        kind, tmp_path_factory.mktemp(f"rt23-smtp-{kind}"), db_prefix="redteam23_smtp",
        alert_webhook_url=hook.url, alert_smtp_port=relay.port, **MAIL,
    ) as gw:  # fmt: skip
        yield gw, relay, hook
    relay.listener.close()


def _refuse_eight(gw: DemoGateway, who: str) -> Callable[[dict[str, object]], bool]:
    """Eight refusals of ``who`` (repeated denials within the hour); what their alert is."""
    for path in ("nothing", "nowhere") * 4:
        gw.client.get(f"/api/v1/{path}", headers=gw.headers(who))
    return lambda a: a.get("rule") == "repeated_denials" and a.get("actor") == who


def test_a_trickling_mail_relay_does_not_hold_the_webhook_back(
    world: tuple[DemoGateway, TrickleRelay, Webhook],
) -> None:
    gw, relay, hook = world
    carls = _refuse_eight(gw, "carl")
    # carl's alert goes to the webhook first, then to the relay, which trickles
    assert any(map(carls, hook.alerts(timeout=30, want=carls)))
    time.sleep(1)
    alices = _refuse_eight(gw, "alice")
    got = hook.alerts(timeout=15, want=alices)
    assert any(map(alices, got)), (relay.pushes, [a.get("rule") for a in got])
    assert relay.pushes >= 1, "the relay was never connected to"
