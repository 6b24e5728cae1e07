"""Red team 24, as the database insider (INSERT on the audit store), for an outside reviewer.

The insider appends an event of their own making at the head of the trail, chained
correctly (the hash chain is public arithmetic) but without the gateways' MAC: an
admin's ``role.assigned`` making alice an admin, which never happened. The gateway
refuses to chain onto it and seals (red team 3). The security officer then exports the
trail, as the unseal asks (``GET /api/v1/audit/export``: the evidence), and hands the
file to an outside reviewer, who runs ``sluice audit verify --file`` with the
gateway's published key ids pinned — what the README tells a reviewer to do.

Before: ``{"ok": true, ...}``, exit 0. The export's trailer is signed by the gateway's
key over every byte, the forgery included, and says ``sealed`` — but the verifier never
read that word, so the reviewer was told the gateway vouched for an event it refused
to build on. Rule broken: an event the gateway never wrote must not verify as part of
the trail (no audit record changes without detection), offline as in the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from audit.export import export_stream, verify_export
from gateway.cli.main import cli
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_redteam3_insider_forged_append import _forge, chain_forgery
from tests.gateway.demo_app import DemoGateway


@pytest.fixture(params=KINDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoGateway]:
    """A deployment of its own: each forgery seals the trail it is tried on."""
    with open_deployment(request.param, tmp_path / "home", db_prefix="sluice_rt24_exp") as gw:
        yield gw


def test_an_export_of_a_sealed_trail_does_not_verify_as_whole(
    fresh: DemoGateway, tmp_path: Path
) -> None:
    gw = fresh
    forged = _forge(gw, lambda *_: None)
    assert gw.client.get("/healthz").json().get("sealed"), "the forgery did not seal the trail"
    export = gw.client.get("/api/v1/audit/export", headers=gw.headers("sam"))
    assert export.status_code == 200, export.text
    assert b'"type":"role.assigned"' in export.content  # the forgery, as evidence
    pinned = set(gw.services.audit.signer.public_keys())

    outcome = verify_export(export.content, trusted_kids=pinned)
    assert not outcome.ok, f"a reviewer was told the forged seq {forged} verifies: {outcome}"
    assert outcome.reason == "sealed" and outcome.first_bad_seq == forged, outcome

    # the reviewer's command: a failure, the seal's reason shown, exit 1
    path = tmp_path / "evidence.jsonl"
    path.write_bytes(export.content)
    kids = [arg for kid in sorted(pinned) for arg in ("--trusted-kid", kid)]
    run = CliRunner().invoke(cli, ["audit", "verify", "--file", str(path), *kids])
    assert run.exit_code == 1, run.output
    said = orjson.loads(run.stdout.splitlines()[0])
    assert said["ok"] is False and said["reason"] == "sealed", said


def test_an_export_does_not_vouch_for_an_event_no_gateway_wrote(fresh: DemoGateway) -> None:
    """The same forgery in the race an export leaves: chained at the head after the
    export's own ``audit.exported`` (the writer's last check) and before its read, so
    nothing sealed (an insider's trigger on that event, or a loop on the head). The
    export must not sign it as the gateway's: its trailer names the first such seq."""
    gw = fresh
    seq = chain_forgery(gw, lambda *_: None) - 1
    log = gw.services.audit
    assert not log.seal.sealed  # no writer has looked yet: the race
    content = b"".join(export_stream(store=log.store, signer=log.signer))
    outcome = verify_export(content, trusted_kids=set(log.signer.public_keys()))
    assert (outcome.ok, outcome.reason, outcome.first_bad_seq) == (False, "unvouched", seq + 1), (
        outcome
    )
