"""Red team 24's left row: the outbox's claim lapsed under a sender still at work.

Two senders over one home (the gateway's pusher and a ``sluice alerts run`` process, or
two replicas' over a shared home) share the outbox file; a sender claims the pushes it
takes (``claimed``, for the claim's time) so the other leaves them alone. A sender took
up to 20 pushes at once, each bounded at its channel's timeout (10 s for mail): the
claim (120 s) could lapse while it still worked through them, and the other sender then
took the rest and pushed them as well — every officer's group chat got the alert twice.

Here the claim is 1 s, the receiver (a local webhook started by the test) takes 0.3 s
per push, and eight alerts are owed: the first sender's claim lapses after about three
pushes while the second sender looks for due pushes every 0.1 s. Each alert must reach
the receiver once. Nothing here asserts on elapsed time.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from audit.alert_outbox import Outbox
from audit.alert_push import AlertPusher, WebhookChannel
from tests.audit.receivers import webhook_receiver

ALERTS = [f"alert-{n}" for n in range(8)]
BOUND_S = 60.0


def test_two_senders_push_each_alert_once(tmp_path: Path) -> None:
    first, second = Outbox(tmp_path, claim_s=1.0), Outbox(tmp_path, claim_s=1.0)
    for aid in ALERTS:
        first.enqueue({"id": aid, "rule": "bulk_pull", "severity": "high"}, ["webhook"])
    with webhook_receiver(delay_s=0.3) as hook:
        channel = WebhookChannel(url=hook.url, secret="claim-test-secret")
        senders = [AlertPusher(box, [channel]) for box in (first, second)]
        working = threading.Thread(target=senders[0].tick)  # takes all eight at once
        working.start()
        deadline = time.monotonic() + BOUND_S
        while working.is_alive() or any(
            (p := first.get(aid, "webhook")) is None or p.status == "pending" for aid in ALERTS
        ):
            assert time.monotonic() < deadline, "the pushes did not end"
            senders[1].tick()
            time.sleep(0.1)
        working.join()
    assert hook.per_alert == dict.fromkeys(ALERTS, 1), hook.per_alert
    assert all(first.get(aid, "webhook").status == "delivered" for aid in ALERTS)  # type: ignore[union-attr]


def test_a_push_longer_than_the_claim_is_pushed_once(tmp_path: Path) -> None:
    """rows35: the claim lapsed *during* one attempt. A push is bounded at its channel's
    timeout (``SLUICE_ALERT_PUSH_TIMEOUT_SECONDS``, up to 300 s), the claim was 120 s
    whatever that bound: a receiver slower than the claim but inside the bound had the
    second sender take the alert mid-attempt and push it again. Here the claim is 0.5 s,
    the webhook's bound its default 5 s, and the receiver answers in 1.5 s."""
    first, second = Outbox(tmp_path, claim_s=0.5), Outbox(tmp_path, claim_s=0.5)
    first.enqueue({"id": "slow-alert", "rule": "bulk_pull", "severity": "high"}, ["webhook"])
    with webhook_receiver(delay_s=1.5) as hook:
        channel = WebhookChannel(url=hook.url, secret="claim-test-secret")
        senders = [AlertPusher(box, [channel]) for box in (first, second)]
        working = threading.Thread(target=senders[0].tick)
        working.start()
        deadline = time.monotonic() + BOUND_S
        while not hook.posts:  # the first sender is at its attempt
            assert time.monotonic() < deadline, "the push did not start"
            time.sleep(0.02)
        while working.is_alive():
            assert time.monotonic() < deadline, "the push did not end"
            senders[1].tick()
            time.sleep(0.1)
        working.join()
        senders[1].tick()
    assert hook.per_alert == {"slow-alert": 1}, hook.per_alert
    assert first.get("slow-alert", "webhook").status == "delivered"  # type: ignore[union-attr]
