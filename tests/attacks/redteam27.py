"""Red team 27's shared set-up: ``civil.death_registrations`` made L4 by its steward,
with a second steward of civil (cora) so that an L4 release can get its two approvals;
and the CLI run as an operator runs it against a test deployment.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli.main import cli
from tests.gateway.demo_app import DemoGateway

DS = "civil.death_registrations"
USERS = "/api/v1/admin/users"
REQUESTS = "/api/v1/access-requests"


def ok(resp: Any) -> Any:
    assert resp.status_code in (200, 201), resp.text
    return resp.json()


def second_civil_steward(gw: DemoGateway) -> None:
    """cora, a steward of civil beside carl (made, or saved again, by root)."""
    ok(gw.client.put(f"{USERS}/cora", headers=gw.headers("root"), json={
        "display_name": "Cora", "department": "civil", "clearance": "L3",
        "jurisdiction": [""], "status": "active"}))  # fmt: skip
    ok(gw.client.post(f"{USERS}/cora/roles", json={"role": "steward", "domain": "civil"},
                      headers=gw.headers("root")))  # fmt: skip


@contextmanager
def l4_with_two_stewards(gw: DemoGateway) -> Iterator[DemoGateway]:
    """``DS`` at L4 and cora a steward of civil beside carl; ``DS`` back at L3 after."""
    ok(gw.client.patch(f"/api/v1/datasets/{DS}", json={"level": "L4"}, headers=gw.headers("carl")))
    second_civil_steward(gw)
    try:
        yield gw
    finally:
        ok(gw.client.patch(f"/api/v1/datasets/{DS}", json={"level": "L3"},
                           headers=gw.headers("carl")))  # fmt: skip


def approved_by_both(gw: DemoGateway, body: dict[str, Any]) -> str:
    """Dora's access request ``body`` for ``DS``, approved by carl and cora: its id."""
    asked = ok(gw.client.post(REQUESTS, headers=gw.headers("dora"), json={"dataset": DS, **body}))
    for steward in ("carl", "cora"):
        ok(gw.client.post(f"{REQUESTS}/{asked['id']}/approve", headers=gw.headers(steward)))
    return str(asked["id"])


def revoke(gw: DemoGateway, request_id: str) -> None:
    ok(gw.client.post(f"{REQUESTS}/{request_id}/revoke", json={"reason": "test over"},
                      headers=gw.headers("dora")))  # fmt: skip


def run_cli(gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """``sluice ARGS`` against ``gw``'s home and catalog, as an operator runs it."""
    monkeypatch.setenv("SLUICE_HOME", str(gw.settings.home))
    monkeypatch.setenv("SLUICE_DATABASE_URL", gw.settings.resolved_database_url)
    return CliRunner().invoke(cli, list(args))


def run_cli_bounded(gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, fifo: Path, *args: str,
                    bound_s: float = 20.0) -> tuple[bool, Any]:  # fmt: skip
    """``run_cli`` in a thread given ``bound_s``: (whether it was still waiting then, its
    result). One still waiting is let go — a writer opens ``fifo`` and closes it, so a
    reader held there sees its end — and given ``bound_s`` more."""
    results: list[Any] = []
    command = threading.Thread(target=lambda: results.append(run_cli(gw, monkeypatch, *args)),
                               daemon=True)  # fmt: skip
    command.start()
    command.join(bound_s)
    hung = command.is_alive()
    if hung:
        os.close(os.open(fifo, os.O_WRONLY))
        command.join(bound_s)
    return hung, results[0] if results else None
