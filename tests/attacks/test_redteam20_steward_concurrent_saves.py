"""Red team 20, steward: two saves of one entry at the same moment leave it refused to
everyone.

Red team 19 made a save answer 409 when another save of the entry was bound but not yet
committed, and left "two saves that bind in one order and commit in the other" as not
reproduced. Two PATCHes of the dibao roll sent together (a double click, two civil
stewards) reproduce it through HTTP nearly every time: both loaded the entry before
either bound its new state, both bound, both committed (200, 200), and the row kept the
values of the one that committed last while the trail named the one that bound last —
39 rounds of 40, the entry answered 423 ``entry_unsealed`` ("changed outside the
gateway") to every analyst until a later save. Now the check that a row's loaded state
is current, its binding and its commit are one step per row: the second save waits for
the first and answers 409 (or is served, if the first did not commit), and the entry
serves after every round.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import psycopg
import pytest

from catalog.entry_seals import entry_key
from gateway.stewardship.row_locks import ADVISORY_SPACE, WRITE_WAIT_S, advisory_key
from tests.attacks.test_insider_model_schedule_seals import CASE, MODEL
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
QUERY = {"fields": ["region_code"], "purpose": "supervision", "case_ref": "JW-RT20", "limit": 1}
ROUNDS = 8


def _together(calls: list[Callable[[], Any]]) -> list[int]:
    """The status of each call, all started at the same moment from their own threads."""
    barrier = threading.Barrier(len(calls))
    answers: list[int] = [0] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = calls[i]().status_code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def _saves(gw: DemoGateway, path: str, who: str, bodies: list[dict[str, Any]],
           method: str = "PATCH") -> list[int]:  # fmt: skip
    headers = gw.headers(who)
    return _together([partial(gw.client.request, method, path, headers=headers, json=b)
                      for b in bodies])  # fmt: skip


def test_two_saves_at_once_leave_the_entry_serving(deployment: DemoGateway) -> None:
    gw = deployment
    entry = gw.client.get(f"/api/v1/catalog/{DIBAO}", headers=gw.headers("carl")).json()
    purposes = list(entry["allowed_purposes"])
    level = next(f["level"] for f in entry["fields"] if f["name"] == "household_size")
    fewer = purposes[:1]
    for i in range(ROUNDS):
        answers = _saves(gw, f"/api/v1/datasets/{DIBAO}", "carl", [
            {"fields": {"household_size": {"level": "L3"}},
             "allowed_purposes": fewer if i % 2 else purposes},
            {"fields": {"household_size": {"level": "L2"}},
             "allowed_purposes": purposes if i % 2 else fewer},
        ])  # fmt: skip
        assert set(answers) <= {200, 409} and 200 in answers, answers
        resp = gw.query("alice", DIBAO, QUERY)
        assert resp.status_code == 200, (i, answers, resp.text)
    final = gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"),
                            json={"fields": {"household_size": {"level": level}},
                                  "allowed_purposes": purposes})  # fmt: skip
    assert final.status_code == 200, final.text


def test_two_saves_of_a_model_at_once_leave_it_running(deployment: DemoGateway) -> None:
    """dora's model saved twice at once (a double click): the loser's bind-back named the
    state both had loaded, over the winner's binding, and the model answered 423
    ``model_unsealed`` to every run — and every later save 409 — for good."""
    gw = deployment
    headers = gw.headers("dora")
    model = gw.client.get(f"/api/v1/comparison-models/{MODEL}", headers=headers).json()
    body = {"name": model["name"], "description": model["description"],
            **{k: model["spec"][k] for k in ("sides", "joins", "conditions", "output")
               if k in model["spec"]}}  # fmt: skip
    levels = model["shared_with"]["levels"]
    for _ in range(ROUNDS):
        answers = _saves(gw, f"/api/v1/comparison-models/{MODEL}", "dora", [
            {**body, "shared_with": {"departments": shared, "levels": levels}}
            for shared in ([], ["audit"])], method="PUT")  # fmt: skip
        assert set(answers) <= {200, 409}, answers
        run = gw.client.post(f"/api/v1/comparison-models/{MODEL}/runs", json=CASE,
                             headers=headers)  # fmt: skip
        assert run.status_code == 202, (answers, run.text)
    restored = gw.client.put(f"/api/v1/comparison-models/{MODEL}", headers=headers,
                             json={**body, "shared_with": model["shared_with"]})  # fmt: skip
    assert restored.status_code == 200, restored.text


@pytest.mark.parametrize("deployment", ["postgres"], indirect=True)  # SQLite: one process
def test_a_save_on_another_replica_in_flight_is_waited_for(deployment: DemoGateway) -> None:
    """Another process's save of the entry (a replica's, on the shared PostgreSQL) holds
    its write lock until its transaction ends, as this process's saves do; carl's save
    here waits for it, and answers 409 when it does not end in time. (SQLite: one
    process; nothing to wait for across processes.)"""
    gw = deployment
    assert gw.services.engine.dialect.name == "postgresql"
    url = gw.services.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as other, other.transaction():
        other.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                      (ADVISORY_SPACE, advisory_key(entry_key(DIBAO))))  # fmt: skip
        started = time.monotonic()
        saved = gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"),
                                json={"fields": {"household_size": {"level": "L3"}}})  # fmt: skip
        assert saved.status_code == 409, saved.text
        assert time.monotonic() - started >= WRITE_WAIT_S * 0.9
    assert gw.query("alice", DIBAO, QUERY).status_code == 200
    again = gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"),
                            json={"fields": {"household_size": {"level": "L2"}}})  # fmt: skip
    assert again.status_code == 200, again.text
