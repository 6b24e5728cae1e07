"""Red team 8, as an operator on a gateway host: mint a week-long admin token while the
trail is sealed, so that it never reaches the trail.

Rule (seventh pass): every token ``sluice token`` mints is on the audit trail. While the
trail is sealed nothing can be appended, so the record goes to the seal file — a file of
the home, unsigned, outside the chain — for the officer and the admin who must unseal
need tokens.

Attack: while sealed, ``sluice token root2 --ttl 604800``. The record lay in the seal
file only; the unseal started a new epoch whose ``audit.unsealed`` named the approvals
and nothing else, so the chain — what officers search, export and verify — never said
that a token for an admin had been minted, by whom, or until when, although the token
stayed valid for a week after the unseal (and whoever can write the home could drop
the line from the seal file).

Expected: once unsealed, each token minted while sealed is on the trail as a
``token.issued`` (its actor, subject, lifetime and expiry as recorded, and when it was
recorded in the seal file), after ``audit.unsealed``, and the chain verifies.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from click.testing import CliRunner

from audit.search import EventFilter, list_events
from gateway.cli.main import cli
from tests.gateway.demo_app import DemoGateway


def _events(gw: DemoGateway, type_: str) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store, filters=EventFilter(type=type_),
                       limit=200, order="asc")  # fmt: skip
    return list(page["items"])


def test_a_token_minted_while_sealed_reaches_the_trail_at_the_unseal(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    monkeypatch.setenv("SLUICE_HOME", str(gw.settings.home))
    monkeypatch.setenv("SLUICE_DATABASE_URL", gw.settings.resolved_database_url)
    root = gw.headers("root")
    resp = gw.client.put(
        "/api/v1/admin/users/root2", json={"display_name": "root2", "clearance": "L1"}, headers=root
    )
    assert resp.status_code == 200, resp.text
    resp = gw.client.post("/api/v1/admin/users/root2/roles",
                          json={"role": "admin", "domain": "*"}, headers=root)  # fmt: skip
    assert resp.status_code == 200, resp.text
    sam = gw.headers("sam")

    seal = gw.services.audit.seal
    assert seal.seal("red team 8: token while sealed", {"test": True})
    minted = CliRunner().invoke(cli, ["token", "root2", "--ttl", "604800"],
                                catch_exceptions=False)  # fmt: skip
    assert minted.exit_code == 0, minted.output
    token = minted.stdout.strip().splitlines()[-1]

    export = gw.client.get("/api/v1/audit/export", headers=sam)
    assert export.status_code == 200
    body = {"evidence_sha256": hashlib.sha256(export.content).hexdigest(), "note": "rt8"}
    assert gw.client.post("/api/v1/audit/unseal", json=body, headers=sam).status_code == 200
    done = gw.client.post("/api/v1/audit/unseal", json=body, headers=root)
    assert done.status_code == 200, done.text
    assert done.json()["sealed"] is False

    unsealed = _events(gw, "audit.unsealed")
    issued = [e for e in _events(gw, "token.issued") if e["resource"] == "user:root2"]
    assert len(issued) == 1, issued
    event = issued[0]
    assert event["seq"] > unsealed[-1]["seq"]
    assert event["actor"]["sub"].startswith("cli:")
    assert event["details"]["ttl_s"] == 604800
    assert event["details"]["roles"] == ["admin"]
    assert event["details"]["recorded_while_sealed_at"]
    assert token not in str(event)

    verified = gw.client.get("/api/v1/audit/verify", headers=sam)
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True, verified.json()
