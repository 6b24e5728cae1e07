"""Red team 21: the 2 s wait for a change in flight, held by an analyst's requests.

A reader whose row verifies but is not the newest state the trail names waits up to 2 s
for the change to commit (``catalog.row_bindings.settle``, red team 20). It waited so
for every reader of a row that will never agree: one a gateway killed mid-save left
refused (no insider needed) or one the database insider wrote back. Each catalog write
(an analyst's own access request moves the generation) made the next queries of such an
entry wait the 2 s again, each on a worker thread: 60 of alice's queries sent together
after one access request held the gateway's 40 threads, the last answered after 4 s, for
every user of the gateway (measured, SQLite). A binding the process has known for
longer than the wait is no change in flight: the row is refused at once.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from catalog import row_bindings
from tests.attacks.test_crash_between_binding_and_commit import _crash_mid_save, _rebind
from tests.attacks.test_insider_entry_seals import DIBAO, ID_QUERY
from tests.attacks.test_insider_grant_seals import _ask
from tests.gateway.demo_app import DemoGateway


def test_a_row_left_refused_holds_no_worker(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    _crash_mid_save(gw)
    _ask(gw)  # alice moves the catalog generation
    first = gw.query("alice", DIBAO, ID_QUERY)  # the process meets the binding: may wait
    assert (first.status_code, first.json()["code"]) == (423, "entry_unsealed")
    time.sleep(row_bindings.SETTLE_S)
    waits: list[float] = []
    monkeypatch.setattr(row_bindings, "time", SimpleNamespace(
        monotonic=time.monotonic, sleep=lambda s: (waits.append(s), time.sleep(s))))  # fmt: skip
    for _ in range(3):
        _ask(gw)
        refused = gw.query("alice", DIBAO, ID_QUERY)
        assert (refused.status_code, refused.json()["code"]) == (423, "entry_unsealed")
    assert waits == [], f"{len(waits)} waits of a settled refusal"
    monkeypatch.undo()
    done = _rebind(gw, monkeypatch, "entry", DIBAO, "--reason", "crash", "--yes")
    assert done.exit_code == 0, done.output
    assert gw.query("alice", DIBAO, ID_QUERY).status_code == 200
