"""Red team 56's left row (5), as an operator (or whoever publishes on this gateway's
subject): the doctor's "ok witness" for a NATS JetStream witness that vouches for none
of this gateway's checkpoints, or for one the chain no longer holds.

The HTTP witness check asks what the witness holds for this gateway, believes it only
with this host's signatures, and fails a checkpoint the chain lacks (red team 56). The
NATS check read the stream's configuration and message count only: "ok … append-only,
N messages" for a stream whose messages on this gateway's subject were all signed by
another key (the name used by another replica, a copied configuration), and for one
holding a checkpoint of this gateway beyond the chain's head (the database restored
from an older backup: the gateway seals on it at start).

Expected: the doctor fails both, and passes a stream holding this gateway's own checkpoint
of the chain's head. Both deployments.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.signing import KeyRing, Signer
from audit.witness_envelope import make_envelope
from audit.witness_nats import NatsWitness
from audit.witness_urls import parse_nats_url
from tests.attacks.test_redteam56_operator_doctor_foreign_witness import (
    GATEWAY_ID,
    _answer,
    _witness_lines,
)
from tests.gateway.demo_app import DemoGateway


@pytest.fixture
def stream_url() -> Iterator[str]:
    yield f"nats://127.0.0.1:4222/doctor_rt56_{uuid.uuid4().hex[:8]}"


def _publish(gw: DemoGateway, url: str, signer: Signer, ahead: int = 0) -> None:
    """A checkpoint of ``GATEWAY_ID`` on the stream (the chain's head, or ``ahead`` of
    it), signed by ``signer``, as a gateway with that key publishes it."""
    cp = _answer(gw, signer, ahead)["checkpoint"]
    witness = NatsWitness(parse_nats_url(url), sender=GATEWAY_ID, public_keys=signer.public_keys)
    try:
        witness.publish(make_envelope(sender=GATEWAY_ID, epoch=0, checkpoint=cp, signer=signer))
    finally:
        witness.close()


def _event_on_the_trail(gw: DemoGateway) -> None:
    read = gw.client.get("/api/v1/audit/alerts", headers=gw.headers("sam"))
    assert read.status_code == 200  # its read is on record


def test_a_stream_of_this_gateways_own_checkpoint_passes(
    deployment: DemoGateway, stream_url: str
) -> None:
    _event_on_the_trail(deployment)
    _publish(deployment, stream_url, deployment.services.audit.signer)
    lines = _witness_lines(deployment, stream_url)
    assert all(line.split()[0] == "ok" for line in lines), lines


def test_a_stream_of_another_keys_checkpoints_fails_doctor(
    deployment: DemoGateway, stream_url: str, tmp_path: Path
) -> None:
    _event_on_the_trail(deployment)
    _publish(deployment, stream_url, KeyRing(tmp_path / "squatter"))
    lines = _witness_lines(deployment, stream_url)
    assert any(line.split()[0] == "FAIL" for line in lines), lines


def test_a_stream_holding_a_checkpoint_the_chain_lacks_fails_doctor(
    deployment: DemoGateway, stream_url: str
) -> None:
    _event_on_the_trail(deployment)
    _publish(deployment, stream_url, deployment.services.audit.signer, ahead=1000)
    lines = _witness_lines(deployment, stream_url)
    assert any(line.split()[0] == "FAIL" and "missing" in line for line in lines), lines
