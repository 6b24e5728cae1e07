"""A NATS JetStream stream as a witness, on the machine's real NATS server (127.0.0.1:4222).

Each test uses a stream of its own (a unique name, deleted afterwards). The stream is
append-only as far as JetStream allows; publishing refuses a checkpoint that goes
backwards; a checkpoint signed by this gateway that goes backwards in the stream is
evidence and seals; the stream's highest checkpoint exposes a truncated chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest
from nats.js.api import StreamConfig

from audit.log import AuditLog
from audit.monitor import Monitor
from audit.seal import SealStore
from audit.signing import KeyRing, Signer, checkpoint_payload
from audit.witness_envelope import make_envelope
from audit.witness_nats import NatsWitness, WitnessEvidence
from audit.witness_urls import parse_nats_url
from catalog.errors import Conflict
from tests.audit.helpers import event, open_log, sqlite_url, tamper
from tests.gateway.demo_app import DemoGateway, demo_gateway

SERVER = "nats://127.0.0.1:4222"


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _with_js(action: Any) -> Any:
    nc = await nats.connect(SERVER)
    try:
        return await action(nc.jetstream())
    finally:
        await nc.close()


@pytest.fixture
def stream() -> Iterator[str]:
    """A unique stream name; the stream (if made) is deleted afterwards."""
    name = "sluice_t_" + uuid.uuid4().hex[:12]
    yield name

    async def drop(js: Any) -> None:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(name)

    _run(_with_js(drop))


def _checkpoint(signer: Signer, seq: int, hash_hex: str) -> dict[str, Any]:
    ts = "2026-12-03T00:00:00.000000Z"
    payload = checkpoint_payload(seq=seq, hash_hex=hash_hex, ts=ts, kid=signer.kid)
    return {"seq": seq, "hash": hash_hex, "ts": ts, "kid": signer.kid,
            "signature": signer.sign(payload)}  # fmt: skip


def _raw_publish(subject: str, body: dict[str, Any] | bytes) -> None:
    """Publish straight to the stream, past every check the gateway makes."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)

    async def pub(js: Any) -> None:
        await js.publish(subject, data)

    _run(_with_js(pub))


def test_the_stream_is_append_only_and_refuses_backwards(tmp_path: Path, stream: str) -> None:
    signer = KeyRing(tmp_path / "keys")
    target = parse_nats_url(f"nats://127.0.0.1:4222/{stream}")
    witness = NatsWitness(target, sender="gw-n", public_keys=signer.public_keys)
    try:
        env = make_envelope(sender="gw-n", epoch=0, checkpoint=_checkpoint(signer, 5, "a" * 64),
                            signer=signer)  # fmt: skip
        first = witness.publish(env)
        assert first["stream_seq"] >= 1 and not first["duplicate"]
        higher = _checkpoint(signer, 10, "b" * 64)
        witness.publish(make_envelope(sender="gw-n", epoch=0, checkpoint=higher, signer=signer))
        # an identical resend is already witnessed: nothing new in the stream
        again = witness.publish(
            make_envelope(sender="gw-n", epoch=0, checkpoint=higher, signer=signer)
        )
        assert again["duplicate"]
        with pytest.raises(Conflict, match="backwards"):
            witness.publish(make_envelope(sender="gw-n", epoch=0,
                                          checkpoint=_checkpoint(signer, 7, "c" * 64),
                                          signer=signer))  # fmt: skip
        with pytest.raises(Conflict, match="changed"):
            witness.publish(make_envelope(sender="gw-n", epoch=0,
                                          checkpoint=_checkpoint(signer, 10, "d" * 64),
                                          signer=signer))  # fmt: skip
        latest = witness.latest()
        assert latest is not None and latest["checkpoint"]["seq"] == 10

        async def probe(js: Any) -> tuple[Any, list[str]]:
            info = await js.stream_info(stream)
            refused = []
            for attempt in (lambda: js.delete_msg(stream, 1), lambda: js.purge_stream(stream)):
                try:
                    await attempt()
                except nats.errors.Error as exc:
                    refused.append(str(exc))
            return info.config, refused

        config, refused = _run(_with_js(probe))
        assert config.deny_delete and config.deny_purge and config.discard == "new"
        assert len(refused) == 2, refused  # JetStream itself refuses delete and purge

        # a message not signed by this gateway is ignored (counted), not evidence
        _raw_publish(witness.subject, {"sender": "gw-n", "epoch": 0, "checkpoint": {}})
        _raw_publish(witness.subject, b"not json")
        assert witness.latest() is not None and witness.status()["foreign_messages"] == 2
        # a genuinely signed checkpoint that goes backwards in the stream is evidence
        _raw_publish(
            witness.subject,
            make_envelope(
                sender="gw-n", epoch=0, checkpoint=_checkpoint(signer, 8, "e" * 64), signer=signer
            ),
        )
        with pytest.raises(WitnessEvidence, match="sequence goes backwards: 8 after 10"):
            witness.latest()
    finally:
        witness.close()


def test_a_deleted_stream_is_evidence(tmp_path: Path, stream: str) -> None:
    """JetStream lets an account with the right delete a whole stream: a running
    gateway that read its checkpoints sees the stream gone or re-created, and seals."""
    signer = KeyRing(tmp_path / "keys")
    witness = NatsWitness(parse_nats_url(f"nats://127.0.0.1:4222/{stream}"), sender="gw-n",
                          public_keys=signer.public_keys)  # fmt: skip
    try:
        witness.publish(make_envelope(sender="gw-n", epoch=0,
                                      checkpoint=_checkpoint(signer, 3, "a" * 64),
                                      signer=signer))  # fmt: skip
        assert witness.latest() is not None

        async def drop(js: Any) -> None:
            await js.delete_stream(stream)

        _run(_with_js(drop))
        with pytest.raises((WitnessEvidence, ValueError)) as first:
            witness.latest()  # gone: unreachable, or already re-created and seen as replaced
        if not isinstance(first.value, WitnessEvidence):
            with pytest.raises(WitnessEvidence, match=r"replaced|went back"):
                witness.latest()
    finally:
        witness.close()


def test_a_weak_stream_is_tightened(tmp_path: Path, stream: str) -> None:
    """A stream that exists with deletes and purges allowed is made append-only first."""

    async def make(js: Any) -> None:
        await js.add_stream(StreamConfig(name=stream, subjects=[f"sluice.witness.{stream}.>"]))

    _run(_with_js(make))
    signer = KeyRing(tmp_path / "keys")
    witness = NatsWitness(parse_nats_url(f"nats://127.0.0.1:4222/{stream}"), sender="gw-n",
                          public_keys=signer.public_keys)  # fmt: skip
    try:
        witness.publish(make_envelope(sender="gw-n", epoch=0,
                                      checkpoint=_checkpoint(signer, 1, "a" * 64),
                                      signer=signer))  # fmt: skip
    finally:
        witness.close()

    async def config(js: Any) -> Any:
        return (await js.stream_info(stream)).config

    found = _run(_with_js(config))
    assert found.deny_delete and found.deny_purge and found.discard == "new"


@pytest.mark.parametrize(
    "url",
    ["nats://127.0.0.1:4222", "nats://127.0.0.1:4222/a.b", "nats://127.0.0.1:x/s",
     "nats://127.0.0.1:4222/s?x=1", "http://127.0.0.1/s"],
)  # fmt: skip
def test_bad_nats_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="NATS witness URL"):
        parse_nats_url(url)


def test_credentials_never_shown() -> None:
    target = parse_nats_url("nats://user:secret@127.0.0.1:4222/cps")
    assert target.url == "nats://127.0.0.1:4222/cps" and "secret" in target.server


def _until_acked(log: AuditLog, seq: int) -> dict[str, Any]:
    assert log.sender is not None
    deadline = time.monotonic() + 30
    while True:
        status = log.sender.statuses()[0]
        if (status["acked_seq"] or 0) >= seq:
            return status
        assert time.monotonic() < deadline, f"seq {seq} not witnessed: {status}"
        time.sleep(0.05)


def test_a_stream_witness_exposes_a_truncated_tail(tmp_path: Path, stream: str) -> None:
    """Without the local witness file, the stream's highest checkpoint shows that the
    tail after it was deleted: the check seals, naming the stream."""
    url = sqlite_url(tmp_path)
    witness_url = f"nats://127.0.0.1:4222/{stream}"
    log = open_log(url, tmp_path / "home", witnesses=[witness_url], gateway_id="gw-n",
                   checkpoint_every=5)  # fmt: skip
    try:
        for n in range(12):
            log.append(event(n))
        status = _until_acked(log, 10)
        assert status["kind"] == "nats" and status["url"] == witness_url
        assert status["stream"] == stream and status["subject"].endswith(".gw-n")
        probe = Monitor(store=log.store, seal=SealStore(tmp_path), witness_file=tmp_path / "none",
                        public_keys=log.signer.public_keys, sender=log.sender,
                        interval_s=1.0)  # fmt: skip
        try:
            assert probe.check(remote=True) is None
            tamper(url, "DELETE FROM audit_events WHERE seq >= 10")
            reason = probe.check(remote=True)
            assert reason is not None and f"witness {witness_url}" in reason, reason
            assert "truncated" in reason
        finally:
            probe.stop()
    finally:
        log.close()


def test_a_checkpoint_going_backwards_in_the_stream_seals(tmp_path: Path, stream: str) -> None:
    """A genuine (signed) but lower checkpoint appearing in the stream after a higher
    one — another instance writing with lost state, or a rewrite — seals the log."""
    url = sqlite_url(tmp_path)
    log = open_log(url, tmp_path / "home", witnesses=[f"nats://127.0.0.1:4222/{stream}"],
                   gateway_id="gw-n", checkpoint_every=5, monitor_seconds=0.2)  # fmt: skip
    try:
        receipts = [log.append(event(n)) for n in range(12)]
        _until_acked(log, 10)
        assert not log.seal.sealed
        low = receipts[4]  # seq 5 with its real hash: only the order is wrong
        envelope = make_envelope(sender="gw-n", epoch=0,
                                 checkpoint=_checkpoint(log.signer, low.seq, low.hash),
                                 signer=log.signer)  # fmt: skip
        _raw_publish(f"sluice.witness.{stream}.gw-n", envelope)
        deadline = time.monotonic() + 30
        while not log.seal.sealed:
            assert time.monotonic() < deadline, "the backwards checkpoint was not detected"
            time.sleep(0.05)
            log.seal.refresh()
        assert "sequence goes backwards" in (log.seal.reason or ""), log.seal.reason
        with pytest.raises(Exception, match="sealed"):
            log.append(event(99))
    finally:
        log.close()


def _status(gw: DemoGateway) -> dict[str, Any]:
    resp = gw.client.get("/api/v1/audit/status", headers=gw.headers("sam"))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _stream_witness(gw: DemoGateway) -> dict[str, Any]:
    found = [w for w in _status(gw)["witnesses"] if w["kind"] == "nats"]
    assert len(found) == 1, _status(gw)["witnesses"]
    return found[0]


def test_a_gateway_with_a_stream_witness_seals_when_its_tail_is_erased(
    tmp_path: Path, stream: str
) -> None:
    """SLUICE_WITNESSES with a nats:// stream: status lists it and what it holds. An
    insider deletes everything after a checkpoint (events and checkpoints) and the local
    witness file, and restarts the gateway: only the stream still knows the head, and the
    gateway seals on it — data endpoints 503."""
    witness_url = f"nats://127.0.0.1:4222/{stream}"
    home = tmp_path / "gw"
    query = {"purpose": "supervision", "case_ref": "JW-2026-001", "fields": ["region_code"]}
    with demo_gateway(home, gateway_id="gw-nats", witnesses=[witness_url]) as gw:
        assert gw.query("arthur", "civil.dibao_recipients", query).status_code == 200
        for _ in range(2):  # two checkpoints: one to cut the chain after
            for n in range(40):
                gw.services.audit.append(event(n))
            head = int(gw.services.audit.append(event(99)).seq)
            deadline = time.monotonic() + 30
            while (_stream_witness(gw)["acked_seq"] or 0) < head:
                assert time.monotonic() < deadline, _stream_witness(gw)
                time.sleep(0.05)
        listed = _stream_witness(gw)
        # (not "ok": reading the status is itself an event, whose checkpoint may be pending)
        assert listed["url"] == witness_url and listed["last_error"] is None
        assert listed["stream"] == stream
        assert listed["subject"] == f"sluice.witness.{stream}.gw-nats"
        assert not _status(gw)["sealed"]
        url = gw.settings.resolved_database_url
        conn = gw.services.audit.store.connect(reader=True)
        try:
            rows = gw.services.audit.store.fetch_all(
                conn, "SELECT seq FROM audit_checkpoints ORDER BY seq"
            )
        finally:
            conn.close()
        earlier = [int(r[0]) for r in rows if int(r[0]) < head][-1]
    # the gateway is stopped: the insider cuts the chain after an earlier checkpoint
    tamper(url, f"DELETE FROM audit_events WHERE seq > {earlier}",
           f"DELETE FROM audit_checkpoints WHERE seq > {earlier}")  # fmt: skip
    (home / "audit-witness.jsonl").unlink()
    with demo_gateway(home, gateway_id="gw-nats", witnesses=[witness_url]) as gw:
        deadline = time.monotonic() + 30
        while not _status(gw)["sealed"]:
            assert time.monotonic() < deadline, _status(gw)
            time.sleep(0.05)
        status = _status(gw)
        assert f"witness {witness_url}" in status["reason"], status
        resp = gw.query("arthur", "civil.dibao_recipients", query)
        assert resp.status_code == 503 and resp.json()["code"] == "unavailable", resp.text
