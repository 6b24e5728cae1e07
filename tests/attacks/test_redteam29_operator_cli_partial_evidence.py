"""Red team 29, as an operator on the gateway's host (with an officer and an admin):
unsealing on a scrap of evidence exported by the CLI.

Rule: a sealed trail is unsealed by a security officer and an admin, each naming the
SHA-256 of *a complete export* taken while sealed, so that whoever unseals holds a copy
of the trail the gateway was sealed over (``audit/unseal.py``, check 3). Red team 5
found the API's export counting any range as evidence (``from=1&to=1``, one event);
the API now records evidence for the whole trail only.

Attack: the operator's export (``sluice audit export``) is another door to the same
seal file. ``sluice audit export --from 1 --to 1`` while sealed wrote one event and
recorded its digest as ``evidence_exported``; sam and root both named it, and the
gateway unsealed with no copy of the sealed trail ever taken. The same holds for a
range starting past the head (an export of nothing) and for ``--from`` after ``--to``.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.attacks.redteam27 import run_cli
from tests.gateway.demo_app import DemoGateway


@pytest.mark.parametrize(
    "scope", [("--from", "1", "--to", "1"), ("--from", "2", "--to", "1")], ids=["one", "reversed"]
)
def test_a_partial_cli_export_is_no_evidence_for_unsealing(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    scope: tuple[str, ...],
) -> None:  # fmt: skip
    gw = deployment
    sam, root = gw.headers("sam"), gw.headers("root")
    assert (
        gw.client.get("/api/v1/audit/events", params={"limit": 1}, headers=sam).status_code == 200
    )
    assert gw.services.audit.seal.seal("red team 29: CLI evidence test", {"test": True})
    try:
        scrap = tmp_path / "scrap.jsonl"
        result = run_cli(gw, monkeypatch, "audit", "export", "--out", str(scrap), *scope)
        if result.exit_code == 0:  # written: it must not count as the evidence
            digest = hashlib.sha256(scrap.read_bytes()).hexdigest()
            body = {"evidence_sha256": digest, "note": "one event is all we kept"}
            first = gw.client.post("/api/v1/audit/unseal", json=body, headers=sam)
            assert first.status_code == 409, (
                f"a CLI export {scope} was accepted as the evidence of a sealed trail"
            )
            assert "export the evidence" in first.text
            # yet on record as an access to the sealed trail, where it can be (the seal file)
            seal_file = gw.services.audit.seal.path.read_text()
            assert '"action":"audit.exported"' in seal_file and digest in seal_file
        # the whole trail, exported by the CLI, is the evidence
        whole = tmp_path / "whole.jsonl"
        result = run_cli(gw, monkeypatch, "audit", "export", "--out", str(whole))
        assert result.exit_code == 0, result.output
        body = {"evidence_sha256": hashlib.sha256(whole.read_bytes()).hexdigest(), "note": "all"}
        assert gw.client.post("/api/v1/audit/unseal", json=body, headers=sam).status_code == 200
        done = gw.client.post("/api/v1/audit/unseal", json=body, headers=root)
        assert done.status_code == 200 and done.json()["sealed"] is False, done.text
    finally:
        _left_unsealed(gw)


def _left_unsealed(gw: DemoGateway) -> None:
    """Unsealed on the API's whole export whatever happened above (the next test runs
    on the same deployment)."""
    seal = gw.services.audit.seal
    seal.refresh()
    if seal.sealed:
        whole = gw.client.get("/api/v1/audit/export", headers=gw.headers("sam"))
        body = {"evidence_sha256": hashlib.sha256(whole.content).hexdigest(), "note": "cleanup"}
        for who in ("sam", "root"):
            gw.client.post("/api/v1/audit/unseal", json=body, headers=gw.headers(who))
        seal.refresh()
    assert not seal.sealed, "the test leaves the gateway unsealed"


def test_an_export_from_past_the_head_or_reversed_is_refused_at_every_door(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A range holding no event (past the head, or ``from`` after ``to``) verified as
    an empty export, a proof of nothing (red team 26 closed the API's ``from`` past the
    head only): the API, the console's handler and the CLI refuse it before recording."""
    gw = deployment
    sam = gw.headers("sam")
    head = gw.client.get("/api/v1/audit/status", headers=sam).json()["head"]["seq"]
    reversed_range = gw.client.get("/api/v1/audit/export", params={"from": 3, "to": 2},
                                   headers=sam)  # fmt: skip
    assert reversed_range.status_code == 400, reversed_range.text[:300]
    out = tmp_path / "nothing.jsonl"
    past = run_cli(gw, monkeypatch, "audit", "export", "--out", str(out), "--from", str(head + 50))
    assert past.exit_code != 0 and "past the trail's head" in past.output, past.output
    back = run_cli(
        gw, monkeypatch, "audit", "export", "--out", str(out), "--from", "3", "--to", "2"
    )
    assert back.exit_code != 0, back.output
