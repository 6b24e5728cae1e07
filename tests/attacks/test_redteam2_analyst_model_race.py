"""Red team 2, as an analyst: two writes of one comparison model at once (ATTACKS.md:
concurrency).

Both read the model's current version N, both put "version N+1" on the trail — each
with its own spec — and the second insert hit the primary key: a 500, and a trail
that names two different version N+1, one of which never existed. The same for two
creations of one model id. One must win (200/201) and the other be a 409, on record.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import Any

import pytest

from tests.gateway.comparison_env import events
from tests.gateway.demo_app import DemoGateway

BASE: dict[str, Any] = {
    "name": {"zh": "并发", "en": "Race"},
    "sides": [{"alias": "p", "dataset": "finance.payroll"},
              {"alias": "d", "dataset": "civil.dibao_recipients"}],
    "joins": [{"left": "p", "left_key": "id_number", "right": "d", "right_key": "id_number"}],
    "output": ["d.region_code"],
}  # fmt: skip


def _race(gw: DemoGateway, event_type: str, send: Any) -> list[Any]:
    audit = gw.services.audit
    original = audit.append
    # Since red team 26 the loser waits at the model's write lock, before its record, and
    # never reaches the barrier: the winner waits out the timeout holding the lock, which
    # is the window the race needs (the loser has read and waits), so it is kept short
    both = threading.Barrier(2, timeout=1.5)

    def held_append(event: Mapping[str, Any]) -> Any:
        if event.get("type") == event_type:  # both have read before either writes
            with contextlib.suppress(threading.BrokenBarrierError):
                both.wait()
        return original(event)

    results: list[Any] = [None, None]

    def run(i: int) -> None:
        results[i] = send(i)

    audit.append = held_append
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        audit.append = original
    return results


@pytest.mark.parametrize("kind", ["update", "create"])
def test_two_writes_of_one_model_at_once(deployment: DemoGateway, kind: str) -> None:
    gw = deployment
    model_id = f"test.race_{kind}"
    h = gw.headers("dora")
    outputs = (["d.region_code"], ["d.status"])
    if kind == "update":
        assert gw.client.post("/api/v1/comparison-models", json={**BASE, "id": model_id},
                              headers=h).status_code == 201  # fmt: skip
        event_type = "comparison_model.updated"

        def send(i: int) -> Any:
            return gw.client.put(f"/api/v1/comparison-models/{model_id}",
                                 json={**BASE, "output": outputs[i]}, headers=h)  # fmt: skip
    else:
        event_type = "comparison_model.created"

        def send(i: int) -> Any:
            return gw.client.post("/api/v1/comparison-models",
                                  json={**BASE, "id": model_id, "output": outputs[i]},
                                  headers=h)  # fmt: skip

    results = _race(gw, event_type, send)
    codes = sorted(r.status_code for r in results)
    assert codes == ([200, 409] if kind == "update" else [201, 409]), [r.text for r in results]
    won = next(i for i, r in enumerate(results) if r.status_code != 409)
    stored = gw.client.get(f"/api/v1/comparison-models/{model_id}", headers=h).json()
    assert stored["spec"]["output"] == outputs[won]
    assert stored["versions"] == ([1, 2] if kind == "update" else [1])
    path = (
        f"/api/v1/comparison-models/{model_id}" if kind == "update" else "/api/v1/comparison-models"
    )
    refused = [
        e
        for e in events(gw, types=("request.refused",))
        if e["details"].get("status") == 409 and e["details"].get("path") == path
    ]
    assert refused, "the lost write is not on record as refused"
