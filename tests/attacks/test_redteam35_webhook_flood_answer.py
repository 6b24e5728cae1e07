"""Red team 35, as whoever answers the alert webhook (a group robot's service, a relay on
the way to it), against the gateway's memory: answer each push with a flood.

Red team 22 bounded each push in time (``ExchangeDeadline``), but the push is an
``httpx`` ``post``, which reads the receiver's whole answer into memory before the
status is looked at — the only thing the push needs. Within the bound a receiver on the
LAN sends hundreds of megabytes (gzip-encoded, inflated by httpx as it reads, a thousand
times what it sends), at every push and every retry.

Attack: the receiver answers every push ``200`` with a 48 MB body; alice's refusals open
a ``repeated_denials`` alert. Expected: the push reads the status and no more than a
socket's buffers of the body. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_insider_audit import _until
from tests.attacks.test_redteam35_witness_flood_answer import BUFFERS, Flood


@pytest.mark.parametrize("kind", KINDS)
def test_a_webhook_answer_is_not_read_whole(kind: str, tmp_path: Path) -> None:
    hook = Flood()
    try:
        with open_deployment(kind, tmp_path, db_prefix="redteam35_hook",
                             alert_webhook_url=hook.url, alert_eval_seconds=0.5,
                             alert_push_backoff_seconds=0.2) as gw:  # fmt: skip
            for i in range(8):  # refused: repeated denials within the hour
                gw.client.get(f"/api/v1/nothing-{i}", headers=gw.headers("alice"))
            _until(lambda: len(hook.sent) >= 1, "the webhook is pushed to")
    finally:
        hook.listener.close()
    assert max(hook.sent) < BUFFERS, hook.sent
