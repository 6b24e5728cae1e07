"""Red team 8, as an admin: make an account whose actions the trail reads as the gateway's
own or a host operator's.

Rule (fifth pass): one person, one name — the trail and the console name who acted, so
no new account may read as another's name; role names, ``*``, ``system`` and
``anonymous`` are reserved.

Attack: the trail has two actors that are not accounts: ``gateway`` (the gateway itself:
schedule triggers, runs a restart interrupted) and ``cli:<login>`` (an operator at the
``sluice`` command line: tokens minted, users and keys changed on the host). Neither was
reserved, so an admin made an analyst ``gateway`` and one ``cli:root`` (200) and gave
them roles: their queries, exports and requests went onto the trail under the gateway's
name and the host operator's, and a search for what ``cli:root`` did on the host mixed
in what the account did through the API.

Expected: 400 for both names (any case, and any ``cli:`` name), through the API and
``sluice users add``; nothing created.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from catalog.models import User
from gateway.cli.main import cli
from tests.gateway.demo_app import DemoGateway

NAMES = ["gateway", "Gateway", "cli:root", "CLI:ops", "cli:"]


@pytest.mark.parametrize("name", NAMES)
def test_an_admin_cannot_name_an_account_as_a_system_actor(
    deployment: DemoGateway, name: str
) -> None:
    gw = deployment
    resp = gw.client.put(f"/api/v1/admin/users/{name}",
                         json={"display_name": "puppet", "clearance": "L3",
                               "jurisdiction": [""]},
                         headers=gw.headers("root"))  # fmt: skip
    assert resp.status_code == 400, resp.text
    with gw.services.sessions() as session:
        assert session.get(User, name) is None


def test_the_cli_refuses_them_too(deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    gw = deployment
    monkeypatch.setenv("SLUICE_HOME", str(gw.settings.home))
    monkeypatch.setenv("SLUICE_DATABASE_URL", gw.settings.resolved_database_url)
    result = CliRunner().invoke(cli, ["users", "add", "cli:ops", "--name", "puppet"])
    assert result.exit_code != 0, result.output
    assert "reserved" in result.output, result.output
    with gw.services.sessions() as session:
        assert session.get(User, "cli:ops") is None
