"""Red team 20: a read while a change made through the gateway is in flight is served, and
a second change of the same row answers 409.

Every change of an entry, a source or a comparison model binds the row's new state on
the trail just before its commit (``catalog.row_bindings``). A reader that loaded the
row in that window found the trail naming a state the row did not carry yet, exactly as
for a row written back behind the gateway, and refused it as tampered:

- dora's run of her model, and her read of an earlier run's hits, while her own save
  of the model was in flight: 423 ``model_unsealed`` ("changed outside the gateway"),
  and her second save 423 where a concurrent write answers 409;
- alice's query of the dibao roll while carl's save of it was in flight and any other
  catalog write landed (the generation moved): 423 ``entry_unsealed`` — and, once
  carl's save rolled back, still 423 for every analyst until the next catalog write
  anywhere (the refusal was cached for the generation);
- the same for civil's source (423 ``source_unsealed``), and fiona's introspection of
  finance's own source: every connect was refused while any source was being saved.

Each write here is held open (bound, uncommitted) and ended by another thread a moment
later, as a slow request's commit would; the reads must wait for it and be served.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.orm import Session

from catalog import service as catalog
from catalog.comparison_models import ComparisonModel
from catalog.models import Dataset, Source
from catalog.schemas import DatasetPatch
from gateway.stewardship.row_trail import bind_until_commit
from tests.attacks.test_insider_model_schedule_seals import CASE, MODEL
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
QUERY = {"fields": ["region_code"], **CASE, "limit": 1}
ENDS = ["rollback", "commit"]


@contextmanager
def _in_flight(gw: DemoGateway, change: Callable[[Session], None], end: str,
               after_s: float = 0.4) -> Iterator[None]:  # fmt: skip
    """``change`` made in a session and bound on the trail as the gateway's writes bind
    it, its commit or rollback (``end``) made ``after_s`` later by another thread."""
    session = gw.services.sessions()
    change(session)
    bind_until_commit(gw.services.audit, session)
    timer = threading.Timer(after_s, lambda: getattr(session, end)())
    timer.start()
    try:
        yield
    finally:
        timer.join()
        session.close()


def _bump(gw: DemoGateway) -> None:
    """Another catalog write (fiona tags her own entry): the catalog generation moves."""
    resp = gw.client.patch("/api/v1/datasets/finance.payroll", headers=gw.headers("fiona"),
                           json={"tags": [f"rt20-{time.monotonic_ns()}"]})  # fmt: skip
    assert resp.status_code == 200, resp.text


def _served(resp: Any, status: int = 200) -> None:
    assert resp.status_code == status, resp.text


def _done_run(gw: DemoGateway) -> str:
    run = gw.client.post(f"/api/v1/comparison-models/{MODEL}/runs", json=CASE,
                         headers=gw.headers("dora"))  # fmt: skip
    _served(run, 202)
    for _ in range(300):
        found = gw.client.get(f"/api/v1/comparison-runs/{run.json()['id']}",
                              headers=gw.headers("dora")).json()  # fmt: skip
        if found["status"] == "done":
            return str(found["id"])
        time.sleep(0.05)
    raise AssertionError(found)


def _model_body(gw: DemoGateway) -> dict[str, Any]:
    model = gw.client.get(f"/api/v1/comparison-models/{MODEL}", headers=gw.headers("dora")).json()
    return {"name": model["name"], "description": model["description"],
            "shared_with": model["shared_with"],
            **{k: model["spec"][k] for k in ("sides", "joins", "conditions", "output")
               if k in model["spec"]}}  # fmt: skip


def _toggle_sharing(session: Session) -> None:
    """dora shares her model with the audit department, or stops sharing it."""
    model = session.get(ComparisonModel, MODEL)
    assert model is not None
    shared = set(model.shared_departments or [])
    model.shared_departments = sorted(shared ^ {"audit"})


@pytest.mark.parametrize("end", ENDS)
def test_reads_of_a_model_while_its_owner_saves_it_are_served(
    deployment: DemoGateway, end: str
) -> None:
    gw = deployment
    run_id = _done_run(gw)
    with _in_flight(gw, _toggle_sharing, end):
        run = gw.client.post(f"/api/v1/comparison-models/{MODEL}/runs", json=CASE,
                             headers=gw.headers("dora"))  # fmt: skip
        _served(run, 202)
    with _in_flight(gw, _toggle_sharing, end):
        _served(gw.client.get(f"/api/v1/comparison-runs/{run_id}/hits",
                              headers=gw.headers("dora")))  # fmt: skip


@pytest.mark.parametrize("end", ENDS)
def test_a_second_save_of_a_model_in_flight_answers_409(deployment: DemoGateway, end: str) -> None:
    gw = deployment
    body = _model_body(gw)
    with _in_flight(gw, _toggle_sharing, end, after_s=1.0):
        again = gw.client.put(f"/api/v1/comparison-models/{MODEL}", json=body,
                              headers=gw.headers("dora"))  # fmt: skip
        assert (again.status_code, again.json()["code"]) == (409, "conflict"), again.text
    _served(gw.client.put(f"/api/v1/comparison-models/{MODEL}", json=body,
                          headers=gw.headers("dora")))  # fmt: skip


def _raise_household_size(session: Session) -> None:
    session.get(Dataset, DIBAO)
    catalog.update_dataset(session=session, dataset_id=DIBAO, patch=DatasetPatch.model_validate(
        {"fields": {"household_size": {"level": "L3"}}}))  # fmt: skip


@pytest.mark.parametrize("end", ENDS)
def test_queries_of_an_entry_while_its_steward_saves_it_are_served(
    deployment: DemoGateway, end: str
) -> None:
    gw = deployment
    _served(gw.query("alice", DIBAO, QUERY))
    with _in_flight(gw, _raise_household_size, end):
        _bump(gw)
        _served(gw.query("alice", DIBAO, QUERY))
        run = gw.client.post(f"/api/v1/comparison-models/{MODEL}/runs", json=CASE,
                             headers=gw.headers("dora"))  # fmt: skip
        _served(run, 202)
    _served(gw.query("alice", DIBAO, QUERY))
    _served(gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"),
                            json={"fields": {"household_size": {"level": "L2"}}}))  # fmt: skip


def _probe_civil_settings(session: Session) -> None:
    source = session.get(Source, "civil-db")
    assert source is not None
    source.settings = {**dict(source.settings or {}), "rt20_probe": 1}


def test_queries_and_connects_while_a_source_is_saved_are_served(deployment: DemoGateway) -> None:
    """Rolled back (the probe setting is no real change to keep)."""
    gw = deployment
    _served(gw.query("alice", DIBAO, QUERY))
    with _in_flight(gw, _probe_civil_settings, "rollback"):
        _bump(gw)
        _served(gw.query("alice", DIBAO, QUERY))
    with _in_flight(gw, _probe_civil_settings, "rollback"):
        _served(gw.client.post("/api/v1/sources/finance-db/introspect", json={},
                               headers=gw.headers("fiona")))  # fmt: skip
    _served(gw.query("alice", DIBAO, QUERY))


def _civil_settings(gw: DemoGateway) -> dict[str, Any]:
    with gw.services.sessions() as session:
        source = session.get(Source, "civil-db")
        assert source is not None
        return dict(source.settings or {})


@pytest.mark.parametrize("end", ENDS)
def test_a_second_change_of_a_source_in_flight_answers_409(
    deployment: DemoGateway, end: str
) -> None:
    """carl saves civil's source while another save of it is in flight: written from the
    state it loaded, it put that state back once the other committed (unbound: the
    source refused to everyone), or, before the reads waited, answered 423."""
    gw = deployment
    original = _civil_settings(gw)

    def main_schema(session: Session) -> None:
        source = session.get(Source, "civil-db")
        assert source is not None
        source.settings = {**original, "schema": "main"}

    with _in_flight(gw, main_schema, end, after_s=3.0):
        again = gw.client.patch("/api/v1/sources/civil-db", headers=gw.headers("carl"),
                                json={"settings": original})  # fmt: skip
        assert (again.status_code, again.json()["code"]) == (409, "conflict"), again.text
    _served(gw.query("alice", DIBAO, QUERY))
    restored = gw.client.patch("/api/v1/sources/civil-db", headers=gw.headers("carl"),
                               json={"settings": original})  # fmt: skip
    _served(restored)
    _served(gw.query("alice", DIBAO, QUERY))
