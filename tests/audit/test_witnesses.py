"""Two real gateways (uvicorn, free ports) witness each other's checkpoints.

A witness countersigns, keeps what it saw outside its database, and refuses a
checkpoint whose sequence goes backwards, whose hash at a known sequence changes, or
that is signed by a key not pinned for its sender. A sender's monitor reads its
witnesses' newest checkpoint and seals when its database no longer holds it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from fastapi import FastAPI

from audit import witness
from audit.monitor import Monitor
from audit.seal import SealStore
from audit.signing import KeyRing, checkpoint_payload, verify_signature
from audit.witness_book import countersign_payload
from audit.witness_envelope import make_envelope
from tests import live_http
from tests.audit.helpers import event, tamper
from tests.gateway.demo_app import DemoGateway, demo_gateway

PATH = "/api/v1/witness/checkpoints"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def _served(app: FastAPI, port: int) -> Iterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)


def _until_witnessed(url: str, sender: str, seq: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        resp = live_http.get(f"{url}{PATH}/{sender}")
        if resp.status_code == 200 and resp.json()["checkpoint"]["seq"] >= seq:
            body: dict[str, Any] = resp.json()
            return body
        assert time.monotonic() < deadline, f"{sender} seq {seq} not witnessed at {url}"
        time.sleep(0.05)


def _head(gw: DemoGateway) -> int:
    for n in range(5):
        gw.services.audit.append(event(n))
    return int(gw.services.audit.append(event(9)).seq)


def _post(url: str, envelope: dict[str, Any]) -> httpx.Response:
    return live_http.post(url + PATH, content=orjson.dumps(envelope),
                      headers={"content-type": "application/json"})  # fmt: skip


def test_two_gateways_witness_each_other(tmp_path: Path) -> None:
    port_a, port_b = _free_port(), _free_port()
    url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    with (
        # pinning on first use is an operator's explicit choice here (off by default)
        demo_gateway(tmp_path / "a", gateway_id="gw-a", witnesses=[url_b], witness_tofu=True) as a,
        demo_gateway(tmp_path / "b", gateway_id="gw-b", witnesses=[url_a], witness_tofu=True) as b,
        _served(a.client.app, port_a),
        _served(b.client.app, port_b),
    ):
        head_a, head_b = _head(a), _head(b)
        _until_witnessed(url_b, "gw-a", head_a)  # B witnessed A
        _until_witnessed(url_a, "gw-b", head_b)  # and A witnessed B
        head_a = _head(a)  # a second checkpoint: one to send backwards later
        receipt = _until_witnessed(url_b, "gw-a", head_a)
        # B countersigned with its own published key, and kept it outside its database
        keys_b = {k["kid"]: k["public_key"] for k in live_http.get(
            url_b + "/api/v1/audit/keys").json()["keys"]}  # fmt: skip
        assert receipt["witness"] == "gw-b" and receipt["witness_kid"] in keys_b
        assert verify_signature(keys_b[receipt["witness_kid"]], countersign_payload(receipt),
                                receipt["countersignature"])  # fmt: skip
        assert (tmp_path / "b" / "witnessed" / "gw-a.jsonl").exists()
        status = a.client.get("/api/v1/audit/status", headers=a.headers("sam")).json()
        remote = [w for w in status["witnesses"] if w["kind"] == "http"]
        assert remote and remote[0]["url"] == url_b and remote[0]["acked_seq"] >= head_a

        _witness_refuses(a, url_b, receipt)
        _monitor_reads_the_remote_witness(a, url_b, tmp_path)


def _witness_refuses(a: DemoGateway, url_b: str, receipt: dict[str, Any]) -> None:
    signer = a.services.audit.signer
    latest = receipt["checkpoint"]
    first = witness.read(witness.witness_path(a.settings.home))[0]
    assert first["seq"] < latest["seq"]
    # a genuine, older checkpoint: the sequence would go backwards
    resp = _post(url_b, make_envelope(sender="gw-a", epoch=0, checkpoint=first, signer=signer))
    assert resp.status_code == 409 and "backwards" in resp.text, resp.text
    # the same seq with another hash, even properly signed: a rewritten chain
    forged = dict(latest, hash="e" * 64)
    payload = checkpoint_payload(seq=forged["seq"], hash_hex=forged["hash"], ts=forged["ts"],
                                 kid=forged["kid"])  # fmt: skip
    forged["signature"] = signer.sign(payload)
    resp = _post(url_b, make_envelope(sender="gw-a", epoch=0, checkpoint=forged, signer=signer))
    assert resp.status_code == 409 and "changed" in resp.text, resp.text
    # a key of someone else's, claiming to be gw-a
    other = KeyRing(a.settings.home / "other-keys")
    fake = dict(latest, seq=latest["seq"] + 1000, kid=other.kid)
    fake["signature"] = other.sign(checkpoint_payload(seq=fake["seq"], hash_hex=fake["hash"],
                                                      ts=fake["ts"], kid=other.kid))  # fmt: skip
    resp = _post(url_b, make_envelope(sender="gw-a", epoch=0, checkpoint=fake, signer=other))
    assert resp.status_code == 403 and "not pinned" in resp.text, resp.text
    # duplicate keys in the body are refused before anything reads it
    raw = b'{"sender":"gw-a","sender":"gw-x"}'
    resp = live_http.post(url_b + PATH, content=raw, headers={"content-type": "application/json"})
    assert resp.status_code == 400
    # an identical resend is answered again (a sender's retry is harmless)
    resp = _post(url_b, make_envelope(sender="gw-a", epoch=0, checkpoint=latest, signer=signer))
    assert resp.status_code == 200
    after = live_http.get(f"{url_b}{PATH}/gw-a").json()
    assert after["checkpoint"]["seq"] >= latest["seq"]


def _monitor_reads_the_remote_witness(a: DemoGateway, url_b: str, tmp_path: Path) -> None:
    """Even without the local witness file, the remote witness's newest checkpoint of
    this gateway exposes a truncated head (a monitor with no local file, its own seal)."""
    log = a.services.audit
    seen = _until_witnessed(url_b, "gw-a", int(log.writer.floor[0]))["checkpoint"]["seq"]
    probe = Monitor(store=log.store, seal=SealStore(tmp_path), witness_file=tmp_path / "none",
                    public_keys=log.signer.public_keys, sender=log.sender,
                    interval_s=1.0)  # fmt: skip
    try:
        assert probe.check(remote=True) is None  # consistent so far
        tamper(a.settings.resolved_database_url, f"DELETE FROM audit_events WHERE seq >= {seen}")
        reason = probe.check(remote=True)
        assert reason is not None and f"witness {url_b}" in reason, reason
    finally:
        probe.stop()


def test_a_witness_pins_no_one_by_default(tmp_path: Path) -> None:
    """Anyone may POST to a witness: with the default settings an unknown sender's key is
    refused (no squatting of another gateway's name), and a pinned sender is accepted."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with demo_gateway(tmp_path / "a", gateway_id="gw-a") as a:
        signer = a.services.audit.signer
        _head(a)
        deadline = time.monotonic() + 30
        while not witness.read(witness.witness_path(a.settings.home)):
            assert time.monotonic() < deadline, "no checkpoint was written"
            time.sleep(0.05)
        latest = witness.read(witness.witness_path(a.settings.home))[-1]
        envelope = make_envelope(sender="gw-a", epoch=0, checkpoint=latest, signer=signer)
        with demo_gateway(tmp_path / "w", gateway_id="gw-w") as w, _served(w.client.app, port):
            resp = _post(url, envelope)
            assert resp.status_code == 403 and "not trusted" in resp.text, resp.text
            assert not (tmp_path / "w" / "witnessed" / "gw-a.jsonl").exists()
        pinned = [f"gw-a={signer.kid}"]
        with (
            demo_gateway(tmp_path / "w2", gateway_id="gw-w", witness_trust=pinned) as w2,
            _served(w2.client.app, port),
        ):
            resp = _post(url, envelope)
            assert resp.status_code == 200, resp.text
