"""A change in flight is neither tampering nor a licence to write over it (ATTACKS.md:
concurrency).

A change made through the gateway binds the row's new state on the trail before it
commits (``gateway.stewardship.row_trail``). Between the two, the row still holds its
old, committed state: a second new version of a comparison model answered 423 "changed
outside the gateway" where it had lost a race (CI, stop 26: `[200, 423]`), and a run of
the model during the first answered 423 too. The second writer now gets 409, and a run
waits for the first to commit (``catalog.row_bindings.settle``, red team 20).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest

from catalog import service as catalog
from catalog.models import Dataset
from catalog.schemas import DatasetPatch
from gateway.stewardship.row_trail import bind_until_commit
from tests.attacks.test_insider_entry_seals import DIBAO, ID_QUERY
from tests.attacks.test_redteam2_analyst_model_race import BASE
from tests.gateway.demo_app import DemoGateway

MODEL = "test.in_flight"
RUN = {"purpose": "supervision", "case_ref": "JW-IN-FLIGHT"}


@contextmanager
def _held(gw: DemoGateway, event_type: str) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Hold the first append of ``event_type`` (a change's own event, after its
    binding) until ``release`` is set (at the latest when the block ends); yields
    (reached, release)."""
    audit, original = gw.services.audit, gw.services.audit.append
    reached, release = threading.Event(), threading.Event()

    def held_append(event: Mapping[str, Any]) -> Any:
        if event.get("type") == event_type and not reached.is_set():
            reached.set()
            release.wait(30)
        return original(event)

    audit.append = held_append
    try:
        yield reached, release
    finally:
        release.set()
        audit.append = original


def test_a_second_version_while_one_is_in_flight_is_409_and_a_run_waits_for_it(
    deployment: DemoGateway,
) -> None:
    gw, h = deployment, deployment.headers("dora")
    created = gw.client.post("/api/v1/comparison-models", json={**BASE, "id": MODEL}, headers=h)
    assert created.status_code == 201, created.text
    path = f"/api/v1/comparison-models/{MODEL}"
    first: list[Any] = []
    with _held(gw, "comparison_model.updated") as (reached, release):
        thread = threading.Thread(target=lambda: first.append(
            gw.client.put(path, json={**BASE, "output": ["d.status"]}, headers=h)))  # fmt: skip
        thread.start()
        assert reached.wait(30), "the first new version never reached its event"
        second = gw.client.put(path, json={**BASE, "output": ["d.region_code"]}, headers=h)
        assert second.status_code == 409, second.text
        threading.Timer(0.3, release.set).start()  # the first commits while the run waits
        run = gw.client.post(f"{path}/runs", json=RUN, headers=h)
        assert run.status_code == 202, run.text
    thread.join(30)
    assert first and first[0].status_code == 200, first
    stored = gw.client.get(path, headers=h).json()
    assert stored["sealed"] is True and stored["versions"] == [1, 2]
    assert stored["spec"]["output"] == ["d.status"]
    assert gw.client.post(f"{path}/runs", json=RUN, headers=h).status_code == 202


@pytest.mark.parametrize("end", ["rollback", "commit"])
def test_a_query_while_a_save_is_in_flight_is_served(deployment: DemoGateway, end: str) -> None:
    gw = deployment
    assert gw.query("alice", DIBAO, ID_QUERY).status_code == 200
    raise_size = DatasetPatch.model_validate({"fields": {"household_size": {"level": "L3"}}})
    with gw.services.sessions() as first:
        first.get(Dataset, DIBAO)
        catalog.update_dataset(session=first, dataset_id=DIBAO, patch=raise_size)
        bind_until_commit(gw.services.audit, first)  # bound; the route commits later
        during = gw.query("alice", DIBAO, ID_QUERY)
        assert during.status_code == 200, during.text
        getattr(first, end)()
    after = gw.query("alice", DIBAO, ID_QUERY)
    assert after.status_code == 200, after.text
