"""Red team 13, as an analyst: a comparison run's stored hits over a frozen object, read
through an entry the officer did not name.

Rule: a freeze stops the data, whichever entry reads it: e735fd1 made the broker refuse
(423) a query, a comparison side and a stream on any entry whose object a frozen entry
reads — a copy published before the freeze included. A run's stored hit list is data
of its entries "released again at every read" (``run_service.check_release``), and a
frozen entry refuses it to everyone but the investigating officers.

Attack: carl published a second entry over civil's dibao roll
(``civil.dibao_copy13``, same table) before any freeze; dora stored a model over
``finance.payroll`` × the copy and ran it. The officer freezes
``civil.dibao_recipients``. Queries of the copy are refused (the broker's check), but
``check_release`` read only the run's own entries' ``frozen_at``: dora downloaded the
stored hits — names, employers, allowance amounts of the frozen roll — as before (200).

Expected: the stored hits of a run over an entry whose object is frozen are refused to
their owner (423), as the entry's queries are; reviewers still read them.
"""

from __future__ import annotations

from typing import Any

from tests.attacks.dibao_copy import payroll_model, publish_dibao_copy
from tests.gateway.comparison_env import hits, run_to_end
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
COPY = "civil.dibao_copy13"
MODEL = "test.payroll_on_dibao_copy13"
WHY = {"reason": "incident IR-13: bulk pull under investigation"}
QUERY = {"purpose": "supervision", "case_ref": "JW-RUN-1", "fields": ["region_code"]}


def _post(gw: DemoGateway, who: str, path: str, body: dict[str, Any]) -> Any:
    return gw.client.post(f"/api/v1{path}", json=body, headers=gw.headers(who))


def test_stored_hits_over_a_frozen_object_are_refused(deployment: DemoGateway) -> None:
    gw = deployment
    publish_dibao_copy(gw, COPY)
    model = payroll_model(MODEL, COPY, ["p.name", "p.employer", "d.monthly_amount",
                                        "d.region_code"])  # fmt: skip
    stored = _post(gw, "dora", "/comparison-models", model)
    assert stored.status_code == 201, stored.text
    run = run_to_end(gw, "dora", MODEL)
    assert run["status"] == "done" and run["hits"], run
    assert hits(gw, "dora", run["id"]).status_code == 200
    assert _post(gw, "sam", f"/datasets/{DIBAO}/freeze", WHY).status_code == 200
    try:
        assert gw.query("dora", COPY, QUERY).status_code == 423
        read = hits(gw, "dora", run["id"])
        assert read.status_code == 423, read.text[:300]
        assert hits(gw, "sam", run["id"]).status_code == 200  # the investigating officer
    finally:
        lifted = _post(gw, "root", f"/datasets/{DIBAO}/unfreeze", WHY)
        assert lifted.status_code == 200, lifted.text
    assert hits(gw, "dora", run["id"]).status_code == 200
