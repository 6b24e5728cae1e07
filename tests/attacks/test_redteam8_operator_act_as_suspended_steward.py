"""Red team 8, as an operator on a gateway host (or a suspended steward with a shell
there): go on acting as a steward an officer has just suspended.

Rule: a suspension governs the very next action of the account, whatever door it comes
through; the trail says who acted. ``sluice sources`` and ``sluice datasets`` act *as* a
named steward (``--as``) so that the department rules and audit events apply as through
the API.

Attack: sam suspends fiona (finance's steward) in an incident. On the host,
``sluice datasets classify --as fiona finance.payroll --field id_number=L1:none`` still
lowered the ID number field of a published entry to L1 (then readable unmasked by every
analyst), and the trail said fiona did it — a suspended account, with nothing naming
the host login that ran the command. The CLI read the steward from the ``users`` row
without its status.

Expected: a suspended (or disabled) account is refused as ``--as`` and nothing changes;
an active one's events say which host login acted for them (``details.via``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from audit.search import EventFilter, list_events
from catalog.models import Field
from gateway.cli.main import cli
from tests.gateway.demo_app import DemoGateway

WHY = {"reason": "red team 8: incident IR-8"}


def _field_level(gw: DemoGateway, dataset: str, name: str) -> str:
    with gw.services.sessions() as session:
        row = session.query(Field).filter_by(dataset_id=dataset, name=name).one()
        return str(row.level)


@pytest.fixture()
def gw(deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoGateway]:
    monkeypatch.setenv("SLUICE_HOME", str(deployment.settings.home))
    monkeypatch.setenv("SLUICE_DATABASE_URL", deployment.settings.resolved_database_url)
    yield deployment
    deployment.edit_user("fiona", status="active", suspended_by=None, suspended_reason=None,
                         suspended_at=None)  # fmt: skip


def _classify(level: str) -> Any:
    return CliRunner().invoke(cli, ["datasets", "classify", "--as", "fiona", "finance.payroll",
                                    "--field", f"id_number={level}"])  # fmt: skip


def test_a_suspended_steward_cannot_be_acted_as(gw: DemoGateway) -> None:
    before = _field_level(gw, "finance.payroll", "id_number")
    resp = gw.client.post("/api/v1/users/fiona/suspend", json=WHY, headers=gw.headers("sam"))
    assert resp.status_code == 200, resp.text

    result = _classify("L1:none")

    assert result.exit_code != 0, result.output
    assert "suspended" in result.output
    assert _field_level(gw, "finance.payroll", "id_number") == before


def test_the_trail_names_the_host_login_that_acted(gw: DemoGateway) -> None:
    result = _classify("L4:id_number")  # raised: a change, on record
    assert result.exit_code == 0, result.output
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="dataset.updated"), limit=5,
                       order="desc")  # fmt: skip
    event = page["items"][0]
    assert event["actor"]["sub"] == "fiona"
    assert str(event["details"].get("via", "")).startswith("cli:"), event
