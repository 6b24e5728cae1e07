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
from typing import Any

import pytest

from gateway.stewardship.comparison_models import service
from tests.gateway.comparison_env import events
from tests.gateway.demo_app import DemoGateway

BASE: dict[str, Any] = {
    "name": {"zh": "并发", "en": "Race"},
    "sides": [{"alias": "p", "dataset": "finance.payroll"},
              {"alias": "d", "dataset": "civil.dibao_recipients"}],
    "joins": [{"left": "p", "left_key": "id_number", "right": "d", "right_key": "id_number"}],
    "output": ["d.region_code"],
}  # fmt: skip


def _race(send: Any) -> list[Any]:
    """Both writes past their read of the model (its id, its current version) before
    either writes. Held at the audit append instead (until a stop-41 CI run), the race
    was not one when the second request read the model only after the first had
    committed (a loaded machine): it made version 3, rightly 200, and the test failed."""
    original = service._checked
    both = threading.Barrier(2, timeout=30)

    def held_checked(*args: Any, **kwargs: Any) -> Any:
        compiled = original(*args, **kwargs)  # read and compiled: now the write
        with contextlib.suppress(threading.BrokenBarrierError):
            both.wait()
        return compiled

    results: list[Any] = [None, None]

    def run(i: int) -> None:
        results[i] = send(i)

    service._checked = held_checked  # type: ignore[assignment]
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        service._checked = original  # type: ignore[assignment]
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

        def send(i: int) -> Any:
            return gw.client.put(f"/api/v1/comparison-models/{model_id}",
                                 json={**BASE, "output": outputs[i]}, headers=h)  # fmt: skip
    else:

        def send(i: int) -> Any:
            return gw.client.post("/api/v1/comparison-models",
                                  json={**BASE, "id": model_id, "output": outputs[i]},
                                  headers=h)  # fmt: skip

    results = _race(send)
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
