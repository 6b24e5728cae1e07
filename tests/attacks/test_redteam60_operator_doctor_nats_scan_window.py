"""Red team 60, as whoever publishes on a shared NATS witness stream (another gateway,
any client allowed on ``sluice.witness.<stream>.>``), against the operator's doctor.

``sluice doctor`` reads what the stream holds for this gateway (red team 56's left row)
as the monitor reads it: from at most the stream's newest ``scan_back`` (10 000)
messages. Messages on other senders' subjects count against that window, so ten
thousand of them published after this gateway's last checkpoint pushed it out of
sight: a stream holding a checkpoint of this gateway that the chain lacks (the
database restored from an older backup) was reported "ok … nothing witnessed yet".

Expected: the doctor still fails it, as it does with no other sender's messages
(test_redteam56_operator_doctor_nats_witness). Both deployments.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import nats
import pytest

from audit.witness_nats import NatsWitness
from audit.witness_urls import parse_nats_url
from tests.attacks.test_redteam56_operator_doctor_foreign_witness import GATEWAY_ID, _witness_lines
from tests.attacks.test_redteam56_operator_doctor_nats_witness import (
    _event_on_the_trail,
    _publish,
)
from tests.gateway.demo_app import DemoGateway

FLOOD = 10_050  # more than the reader's scan_back


@pytest.fixture
def stream_url() -> Iterator[str]:
    yield f"nats://127.0.0.1:4222/doctor_rt60_{uuid.uuid4().hex[:8]}"


def _flood(url: str, n: int) -> None:
    """``n`` messages on another sender's subject of the same stream."""
    target = parse_nats_url(url)

    async def go() -> None:
        nc = await nats.connect("nats://127.0.0.1:4222")
        try:
            for i in range(n):
                await nc.publish(target.subject("another-gateway"), b"{}" if i else b"x")
            await nc.flush()
            js = nc.jetstream()
            while (await js.stream_info(target.stream)).state.messages < n + 1:
                await asyncio.sleep(0.05)
        finally:
            await nc.close()

    asyncio.run(go())


def test_other_senders_messages_do_not_hide_a_checkpoint_the_chain_lacks(
    deployment: DemoGateway, stream_url: str
) -> None:
    _event_on_the_trail(deployment)
    _publish(deployment, stream_url, deployment.services.audit.signer, ahead=1000)
    _flood(stream_url, FLOOD)
    lines = _witness_lines(deployment, stream_url)
    assert any(line.split()[0] == "FAIL" and "missing" in line for line in lines), lines


def test_the_reader_finds_this_gateways_checkpoint_behind_the_window(
    deployment: DemoGateway, stream_url: str
) -> None:
    _event_on_the_trail(deployment)
    signer = deployment.services.audit.signer
    _publish(deployment, stream_url, signer)
    _flood(stream_url, FLOOD)
    witness = NatsWitness(parse_nats_url(stream_url), sender=GATEWAY_ID,
                          public_keys=signer.public_keys)  # fmt: skip
    try:
        assert witness.latest() is not None
    finally:
        witness.close()
