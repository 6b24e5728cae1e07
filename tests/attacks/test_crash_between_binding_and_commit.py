"""A gateway killed between a change's binding and its commit (THREAT_MODEL's open row):
the row verifies but is not the newest state the trail names, so it served nothing
(423) and every change of it through the API answered 409, for ever — entries, sources
and comparison models had no way back (users have an admin's whole save).

``sluice catalog rebind`` is the operator's way back, on the host, on record; it never
makes a row changed behind the gateway govern (its seal must verify). A comparison model, the same.
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from audit.search import EventFilter, list_events
from catalog import service as catalog
from catalog.comparison_models import ComparisonModel
from catalog.models import Dataset
from catalog.schemas import DatasetPatch
from gateway.cli.main import cli
from gateway.stewardship.row_trail import bind_changed
from tests.attacks.test_changes_in_flight import RUN
from tests.attacks.test_insider_entry_seals import DIBAO, ID_QUERY, _insider
from tests.attacks.test_redteam2_analyst_model_race import BASE
from tests.gateway.demo_app import DemoGateway


def _crash_mid_save(gw: DemoGateway) -> None:
    """carl's save of the dibao roll bound on the trail, then its process gone: nothing
    committed, nothing bound back."""
    session = gw.services.sessions()
    session.get(Dataset, DIBAO)
    catalog.update_dataset(session=session, dataset_id=DIBAO, patch=DatasetPatch.model_validate(
        {"fields": {"household_size": {"level": "L3"}}}))  # fmt: skip
    bind_changed(gw.services.audit, session)
    session.close()  # rolled back by the database, as a killed process's transaction is


def _rebind(gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setenv("SLUICE_HOME", str(gw.settings.home))
    monkeypatch.setenv("SLUICE_DATABASE_URL", gw.settings.resolved_database_url)
    return CliRunner().invoke(cli, ["catalog", "rebind", *args])


def _tags(gw: DemoGateway, tags: list[str]) -> Any:
    return gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"),
                           json={"tags": tags})  # fmt: skip


def test_an_entry_left_by_a_crash_is_rebound_by_the_operator(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    tags = gw.client.get(f"/api/v1/catalog/{DIBAO}", headers=gw.headers("alice")).json()["tags"]
    _crash_mid_save(gw)
    refused = gw.query("alice", DIBAO, ID_QUERY)
    assert (refused.status_code, refused.json()["code"]) == (423, "entry_unsealed")
    assert _tags(gw, [*tags, "crash"]).status_code == 409
    done = _rebind(gw, monkeypatch, "entry", DIBAO, "--reason", "gw-2 killed at 10:02", "--yes")
    assert done.exit_code == 0 and "bound as it is" in done.output, done.output
    assert "household_size" in done.output  # the operator saw what will govern
    served = gw.query("alice", DIBAO, ID_QUERY)
    assert served.status_code == 200, served.text
    assert _tags(gw, [*tags, "crash"]).status_code == 200
    assert _tags(gw, tags).status_code == 200
    again = _rebind(gw, monkeypatch, "entry", DIBAO, "--reason", "twice", "--yes")
    assert again.exit_code == 0 and "nothing to do" in again.output
    page = list_events(store=gw.services.audit.store, filters=EventFilter(
        type="catalog.row_bound"), limit=5, order="desc")  # fmt: skip
    rebound = [e for e in page["items"] if "rebound" in e["details"]]
    assert [e["details"]["rebound"] for e in rebound] == ["gw-2 killed at 10:02"]
    assert rebound[0]["actor"]["sub"] != "gateway"


def test_rebind_never_makes_a_row_changed_behind_the_gateway_govern(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The insider lowers the ID-number field's level and asks the operator to rebind
    "after a crash": refused, the entry still serves nothing until written back."""
    gw = deployment
    with _insider(gw, "fields", "dataset_id = :d AND name = 'id_number'", "level = 'L1'",
                  d=DIBAO):  # fmt: skip
        refused = _rebind(gw, monkeypatch, "entry", DIBAO, "--reason", "crash", "--yes")
        assert refused.exit_code != 0 and "does not verify" in refused.output, refused.output
        assert gw.query("alice", DIBAO, ID_QUERY).status_code == 423
    assert gw.query("alice", DIBAO, ID_QUERY).status_code == 200


def test_rebind_asks_and_says_why(deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    gw = deployment
    _crash_mid_save(gw)
    declined = _rebind(gw, monkeypatch, "entry", DIBAO, "--reason", "crash")  # no --yes: asks
    assert declined.exit_code != 0 and "Aborted" in declined.output
    assert _rebind(gw, monkeypatch, "entry", DIBAO, "--reason", " ", "--yes").exit_code == 2
    unknown = _rebind(gw, monkeypatch, "model", "no.such", "--reason", "x", "--yes")
    assert unknown.exit_code == 1 and "not_found" in unknown.output
    assert _rebind(gw, monkeypatch, "entry", DIBAO, "--reason", "x", "--yes").exit_code == 0


def test_a_model_left_by_a_crash_is_rebound_by_the_operator(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw, h = deployment, deployment.headers("dora")
    made = gw.client.post("/api/v1/comparison-models", json={**BASE, "id": "test.crashed"},
                          headers=h)  # fmt: skip
    assert made.status_code == 201, made.text
    session = gw.services.sessions()
    model = session.get(ComparisonModel, "test.crashed")
    assert model is not None
    model.shared_departments = ["audit"]  # dora's new sharing, bound, never committed
    bind_changed(gw.services.audit, session)
    session.close()
    run = "/api/v1/comparison-models/test.crashed/runs"
    refused = gw.client.post(run, json=RUN, headers=h)
    assert (refused.status_code, refused.json()["code"]) == (423, "model_unsealed")
    done = _rebind(gw, monkeypatch, "model", "test.crashed", "--reason", "crash", "--yes")
    assert done.exit_code == 0 and "bound as it is" in done.output, done.output
    assert gw.client.post(run, json=RUN, headers=h).status_code == 202
