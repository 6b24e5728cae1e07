"""Red team 13, as an analyst: a comparison model and run over a copy of a frozen object
are accepted, then fail.

Rule: a model on an entry an officer froze is refused (423), stored or run
(``comparison.access.check_access``: "refuse what the broker would refuse on any
side"); the broker refuses an entry whose object a frozen entry reads (e735fd1).

Attack: with ``civil.dibao_recipients`` frozen, dora stores a model over
``civil.dibao_copy13m`` (a copy published before the freeze) and starts a run: both were
accepted (201, 202) — the check read the entries' own ``frozen_at`` only — and the run
then failed at the broker, so the refusal came later, as a failed run, not as the 423
the same request on the frozen entry answers.

Expected: 423 at once, for storing and for running, as for the frozen entry itself.
"""

from __future__ import annotations

from typing import Any

from tests.attacks.dibao_copy import payroll_model, publish_dibao_copy
from tests.gateway.comparison_env import start
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
COPY = "civil.dibao_copy13m"
WHY = {"reason": "incident IR-13: bulk pull under investigation"}


def _post(gw: DemoGateway, who: str, path: str, body: dict[str, Any]) -> Any:
    return gw.client.post(f"/api/v1{path}", json=body, headers=gw.headers(who))


def _model(model_id: str) -> dict[str, Any]:
    return payroll_model(model_id, COPY, ["p.name", "d.region_code"])


def test_a_model_over_a_copy_of_a_frozen_object_is_refused(deployment: DemoGateway) -> None:
    gw = deployment
    publish_dibao_copy(gw, COPY)
    stored = _post(gw, "dora", "/comparison-models", _model("test.copy13_before"))
    assert stored.status_code == 201, stored.text
    assert _post(gw, "sam", f"/datasets/{DIBAO}/freeze", WHY).status_code == 200
    try:
        again = _post(gw, "dora", "/comparison-models", _model("test.copy13_after"))
        assert again.status_code == 423, again.text
        run = start(gw, "dora", "test.copy13_before")
        assert run.status_code == 423, run.text
    finally:
        lifted = _post(gw, "root", f"/datasets/{DIBAO}/unfreeze", WHY)
        assert lifted.status_code == 200, lifted.text
