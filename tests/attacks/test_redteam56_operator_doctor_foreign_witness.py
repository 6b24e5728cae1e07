"""Red team 56, as an operator (or whoever took this gateway's name at a witness): the
doctor's "ok witness" for a witness that vouches for none of this gateway's checkpoints.

Rule: a remote witness bounds the trail's unsigned tail — it holds this gateway's signed
checkpoints where the database's owner cannot rewrite them (THREAT_MODEL, "Known gaps");
``sluice doctor`` checks each witness (docs/deploy.md, Witnesses). The gateway's own
monitor believes a witness's answer only when it carries this gateway's signatures
(``audit.monitor._ours``): anything else is "answer not signed by this gateway", skipped.

Attack: the witness at ``SLUICE_WITNESSES`` answers for this gateway's id with a
checkpoint signed by another key — its name taken there on first use
(``SLUICE_WITNESS_TOFU``) by whoever posted first, or pinned to another replica's key —
so it refuses every checkpoint this gateway sends (403, key not pinned) and vouches for
nothing. The doctor read only that the answer had a ``checkpoint.seq``: "ok witness …
reachable; holds checkpoint N of <id>".

Expected: the doctor fails that witness (its answer is not this gateway's); a witness
answering with this gateway's own signed checkpoint still passes. Both deployments.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from audit.events import format_ts, utc_now
from audit.signing import KeyRing, Signer, checkpoint_payload
from audit.witness_envelope import envelope_payload
from gateway.cli.doctor_cmd import doctor
from tests.gateway.demo_app import DemoGateway

GATEWAY_ID = "rt56-gw"


def _answer(gw: DemoGateway, signer: Signer, ahead: int = 0) -> dict[str, Any]:
    """A witness's answer for ``GATEWAY_ID``: the chain's head (or a seq ``ahead`` of it,
    as a witness holds after the database was restored from an older backup), signed by
    ``signer``."""
    store = gw.services.audit.store
    conn = store.connect(reader=True)
    try:
        seq, hash_hex = store.read_head(conn)
    finally:
        conn.close()
    seq, hash_hex = (seq + ahead, "ab" * 32) if ahead else (seq, hash_hex)
    ts, kid = format_ts(utc_now()), signer.kid
    cp = {"seq": seq, "hash": hash_hex, "ts": ts, "kid": kid,
          "signature": signer.sign(checkpoint_payload(seq=seq, hash_hex=str(hash_hex), ts=ts,
                                                      kid=kid))}  # fmt: skip
    signed = envelope_payload(sender=GATEWAY_ID, epoch=0, checkpoint=cp, kid=kid)
    return {"witness": "w56", "sender": GATEWAY_ID, "epoch": 0, "checkpoint": cp,
            "envelope": {"kid": kid, "signature": signer.sign(signed)}}  # fmt: skip


class _Witness(BaseHTTPRequestHandler):
    answer: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        data = json.dumps(self.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture
def witness() -> Iterator[tuple[str, type[_Witness]]]:
    handler = type("Witness", (_Witness,), {"answer": {}})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _witness_lines(gw: DemoGateway, url: str) -> list[str]:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SLUICE_")}
    env.update(SLUICE_HOME=str(gw.settings.home), SLUICE_WITNESSES=url,
               SLUICE_DATABASE_URL=gw.settings.resolved_database_url,
               SLUICE_GATEWAY_ID=GATEWAY_ID)  # fmt: skip
    result = CliRunner().invoke(doctor, ["--timeout", "2"], env=env)
    return [
        " ".join(line.split())
        for line in result.output.splitlines()
        if line.split()[1:3] == ["witness", f"{url}:"]
    ]


def test_a_witness_holding_another_keys_checkpoint_fails_doctor(
    deployment: DemoGateway, witness: tuple[str, type[_Witness]], tmp_path: Path
) -> None:
    url, handler = witness
    read = deployment.client.get("/api/v1/audit/alerts", headers=deployment.headers("sam"))
    assert read.status_code == 200  # an event on the trail (its read is on record)
    handler.answer = _answer(deployment, deployment.services.audit.signer)
    ours = _witness_lines(deployment, url)
    assert ours and all(line.split()[0] == "ok" for line in ours), ours

    handler.answer = _answer(deployment, KeyRing(tmp_path / "squatter"))
    lines = _witness_lines(deployment, url)
    assert any(line.split()[0] == "FAIL" for line in lines), lines


def test_a_witness_holding_a_checkpoint_the_chain_lacks_fails_doctor(
    deployment: DemoGateway, witness: tuple[str, type[_Witness]]
) -> None:
    """The whole host restored from an older snapshot (the database and the home's own
    witness file alike): the witness file check passes, and the remote witness, which
    holds a later checkpoint of this gateway, is what the gateway seals on at start."""
    url, handler = witness
    read = deployment.client.get("/api/v1/audit/alerts", headers=deployment.headers("sam"))
    assert read.status_code == 200
    handler.answer = _answer(deployment, deployment.services.audit.signer, ahead=1000)
    lines = _witness_lines(deployment, url)
    assert any(line.split()[0] == "FAIL" and "missing" in line for line in lines), lines
