"""Red team 22, as a database insider (the catalog writable behind the gateway), for an
analyst: a done comparison run's own row rewritten, its hit list left as stored.

Rule: a stored hit list is served only as the run its completion on the audit trail
names (red team 2: its bytes, owner, model version, purpose and case are compared with
``comparison.completed``). The trail also records whether the run was cut at its row cap
(``details.truncated``) and the jurisdiction each side was read under
(``details.sides``); the row's copies of both govern every read of the hits: the
``Sluice-Truncated`` header and the trailer an analyst's file is judged complete by
(``gateway.cli.download``: "a file that is silently cut reads as 'these are all the
records', the worst error an oversight tool can make"), and the jurisdiction check that
refuses the hits to a reader narrowed since (red team 3).

Attack: dora's run stops at her day's row quota (``truncated``). (1) ``UPDATE
comparison_runs SET truncated = false``: her download says the hit list is whole. (2) An
admin narrows dora to one county; the run's ``sides`` rewritten to say it was read under
that county only: she reads the hits of every county again.

Expected: both rows are not the run the trail names, so its hits are refused (409
``hits_tampered``), as a swapped hit list is. On main: (1) 200 with
``Sluice-Truncated: false``, (2) 200.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.comparison_models import ComparisonRun
from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.comparison_env import hits, run_to_end
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"


@pytest.fixture(scope="module", params=KINDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[DemoGateway, dict[str, Any]]]:  # fmt: skip
    home: Path = tmp_path_factory.mktemp(f"rt22-run-row-{request.param}")
    with open_deployment(request.param, home, db_prefix="redteam22_run_row",
                         daily_row_quota=1) as gw:  # fmt: skip
        view = run_to_end(gw, "dora", MODEL)
        assert view["status"] == "done" and view["truncated"] is True, view
        yield gw, view


def _edit_run(gw: DemoGateway, run_id: str, **values: Any) -> dict[str, Any]:
    """The run's row changed behind the gateway (runs carry no seal); the old values."""
    with gw.services.sessions() as session:
        run = session.get(ComparisonRun, run_id)
        assert run is not None
        old = {name: getattr(run, name) for name in values}
        for name, value in values.items():
            setattr(run, name, value)
        session.commit()
    return old


def test_a_cut_run_rewritten_as_whole_is_not_served(
    world: tuple[DemoGateway, dict[str, Any]],
) -> None:
    gw, view = world
    answer = hits(gw, "dora", view["id"], fmt="csv")
    assert answer.status_code == 200 and answer.headers["Sluice-Truncated"] == "true"
    old = _edit_run(gw, view["id"], truncated=False)
    try:
        answer = hits(gw, "dora", view["id"], fmt="csv")
        assert answer.status_code == 409, (answer.status_code, answer.headers.get(
            "Sluice-Truncated"))  # fmt: skip
        assert answer.json()["code"] == "hits_tampered", answer.text
    finally:
        _edit_run(gw, view["id"], **old)
    assert hits(gw, "dora", view["id"]).status_code == 200  # as stored: served again


def test_a_run_rewritten_as_read_under_a_narrower_jurisdiction_is_not_served(
    world: tuple[DemoGateway, dict[str, Any]],
) -> None:
    gw, view = world
    dora = gw.listed_user("dora")
    narrowed = {k: dora[k] for k in ("display_name", "department", "clearance")}
    resp = gw.client.put(
        "/api/v1/admin/users/dora",
        headers=gw.headers("root"),
        json={**narrowed, "jurisdiction": ["430121"], "status": "active"},
    )
    assert resp.status_code == 200, resp.text
    try:
        assert hits(gw, "dora", view["id"]).status_code == 403  # read under every county
        sides = {alias: {**side, "jurisdiction": ["430121"]}
                 for alias, side in view["sides"].items()}  # fmt: skip
        old = _edit_run(gw, view["id"], sides=sides)
        try:
            answer = hits(gw, "dora", view["id"])
            assert answer.status_code == 409, answer.status_code
            assert answer.json()["code"] == "hits_tampered", answer.text
        finally:
            _edit_run(gw, view["id"], **old)
    finally:
        gw.restore_user(dora)
