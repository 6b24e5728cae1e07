"""Red team 2, as an admin reading what the gateway says about its witnesses.

A NATS witness URL may carry the stream account's credentials
(``nats://user:pass@host:4222/<stream>``); every message about a bad one quoted the whole
URL, password included, into the start-up error and the logs. An HTTP witness was kept
and shown as written, so ``https://user:pass@witness`` put the password in
``GET /api/v1/audit/status`` and ``sluice doctor``. Now no message quotes credentials, and
an HTTP witness is known everywhere (status, logs, the monitor's and the seal's
evidence, receipts) by its URL without credentials, and reached by the URL as written.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.core.settings import Settings
from tests.gateway.demo_app import demo_gateway

SECRET = "s3cret-stream-pass"


@pytest.mark.parametrize("url", [
    f"nats://sluice:{SECRET}@nats.internal:99999/sluice",
    f"nats://sluice:{SECRET}@nats.internal:4222/bad stream",
    f"nats://sluice:{SECRET}@nats.internal:4222/s?x=1",
    f"nats://sluice:{SECRET}@/sluice",
    f"ftp://sluice:{SECRET}@witness.internal",
])  # fmt: skip
def test_a_witness_url_never_echoes_its_password(url: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(home=tmp_path, witnesses=[url])
    assert SECRET not in str(refused.value)


def test_the_audit_status_shows_no_witness_password(tmp_path: Path) -> None:
    with demo_gateway(tmp_path, witnesses=[f"http://sluice:{SECRET}@127.0.0.1:9/"]) as gw:
        for _ in range(3):  # the monitor and the sender have tried it by now
            status = gw.client.get("/api/v1/audit/status", headers=gw.headers("sam"))
            assert status.status_code == 200
            assert SECRET not in status.text
            assert "http://127.0.0.1:9" in status.text
            time.sleep(0.5)
