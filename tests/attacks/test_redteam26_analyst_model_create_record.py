"""Red team 26, as an analyst (two of dora's own requests at once, a double click).

Two creations of one comparison model id: both find no such model, then each compiles
its spec against the catalog (the slow part). The first binds, records
``comparison_model.created`` and commits; the second waited for the model's write lock
(``bind_until_commit``), then put its own ``comparison_model.created`` ``ok`` on the
trail — with its own spec and sharing — and only its commit, on the primary key,
answered 409. Red team 25's rule for a source's saves: a 409 must not leave an ``ok``
record of a change that was never made (the trail names two version-1 models, one of
which never existed). Now the second is refused under the lock, before its record.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pytest

from gateway.stewardship.comparison_models import service
from tests.attacks.test_redteam2_analyst_model_race import BASE
from tests.gateway.comparison_env import events
from tests.gateway.demo_app import DemoGateway


def both_past(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
    """``module.name`` waits until two requests have called it (2 s at most).

    Once fixed, the loser waits at the row's write lock and never calls it: the winner
    waits out the bound holding the lock, the window the race needs (the loser has read
    and waits), so the bound is short (it was 5 s: ~5 s a test in about 14 modules)."""
    original = getattr(module, name)
    both = threading.Barrier(2, timeout=2)

    def paused(*args: Any, **kwargs: Any) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):
            both.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, paused)


def two_at_once(run: Callable[[int], None]) -> None:
    """``run(0)`` and ``run(1)`` in two threads at once (each request its own)."""
    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)


def one_made_one_on_record(gw: DemoGateway, results: list[Any], type_: str, resource: str) -> int:
    """One 201 and one 409, and one ``ok`` record of the creation: the winner's index."""
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409], [r.text for r in results]
    made = [e for e in events(gw, types=(type_,)) if e["resource"] == resource]
    assert len(made) == 1, f"the 409 left a creation on record: {made}"
    return next(i for i, r in enumerate(results) if r.status_code == 201)


def test_the_losing_creation_of_a_model_is_not_on_record_as_created(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    model_id = "test.rt26_double_create"
    both_past(monkeypatch, service, "_checked")  # both past the existence check
    outputs = (["d.region_code"], ["d.status"])
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        results[i] = gw.client.post("/api/v1/comparison-models",
                                    json={**BASE, "id": model_id, "output": outputs[i]},
                                    headers=gw.headers("dora"))  # fmt: skip

    two_at_once(run)
    won = one_made_one_on_record(gw, results, "comparison_model.created",
                                 f"comparison_model:{model_id}")  # fmt: skip
    stored = gw.client.get(f"/api/v1/comparison-models/{model_id}", headers=gw.headers("dora"))
    assert stored.json()["spec"]["output"] == outputs[won]
