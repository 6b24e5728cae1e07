"""Red team 16, as an analyst: a run's stored hits after one of its entries is withdrawn.

Rule: a stored hit list is data of its entries, released again at every read: its
owner's access is checked as for a new run — role, clearance, grants, jurisdiction —
and no column may be clearer than that decision releases it now
(``run_service.check_release``; red teams 2 and 6).

Attack: ``check_release`` returned early, before that check, as soon as any of the
run's entries was no longer published ("an entry since withdrawn leaves the stored
result readable"). dora ran a model over ``finance.payroll`` and a second entry of
civil's dibao roll on a source of its own; an admin took her analyst role away and her
read of the hits was refused (403) — until carl deregistered that source (its entries
are withdrawn), after which she, no analyst any more, downloaded the names, employers
and allowance amounts again (200). The same skip let a lowered clearance or a revoked
unmask grant read stored hits clearer than policy now releases them.

Expected: a withdrawn entry leaves the stored result readable to a reader who may still
read it — decided against the entry as it stands — and to no one else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from catalog.models import Source
from tests.attacks.dibao_copy import payroll_model, publish_dibao_copy
from tests.gateway.comparison_env import hits, run_to_end
from tests.gateway.demo_app import DemoGateway

COPY_SOURCE, COPY = "civil-copy16", "civil.dibao_copy16"
MODEL = "test.payroll_on_dibao_copy16"
ROLE = "/api/v1/admin/users/dora/roles"


def _post(gw: DemoGateway, who: str, path: str, body: dict[str, Any]) -> Any:
    return gw.client.post(f"/api/v1{path}", json=body, headers=gw.headers(who))


def _civil_url(gw: DemoGateway) -> str:
    with gw.services.sessions() as session:
        source = session.scalars(select(Source).where(Source.id == "civil-db")).one()
        return str(source.settings["url"])


def test_a_withdrawn_entry_does_not_waive_the_owners_access(deployment: DemoGateway) -> None:
    gw = deployment
    made = _post(gw, "carl", "/sources", {
        "id": COPY_SOURCE, "department": "civil", "kind": "sqlite", "display_name": "copy",
        "settings": {"url": _civil_url(gw)}})  # fmt: skip
    assert made.status_code == 201, made.text
    publish_dibao_copy(gw, COPY, source=COPY_SOURCE)
    output = ["p.name", "p.employer", "d.monthly_amount", "d.region_code"]
    assert _post(gw, "dora", "/comparison-models",
                 payroll_model(MODEL, COPY, output)).status_code == 201  # fmt: skip
    run = run_to_end(gw, "dora", MODEL)
    assert run["status"] == "done" and run["hits"], run
    assert hits(gw, "dora", run["id"]).status_code == 200
    taken = gw.client.delete(f"{ROLE}/analyst/*", headers=gw.headers("root"))
    assert taken.status_code == 200, taken.text
    try:
        assert hits(gw, "dora", run["id"]).status_code == 403  # no analyst any more
        gone = gw.client.delete(f"/api/v1/sources/{COPY_SOURCE}", headers=gw.headers("carl"))
        assert gone.status_code == 200 and COPY in gone.json()["unpublished"], gone.text
        read = hits(gw, "dora", run["id"])
        assert read.status_code == 403, read.text[:300]
    finally:
        back = _post(gw, "root", "/admin/users/dora/roles", {"role": "analyst", "domain": "*"})
        assert back.status_code in (200, 201), back.text
    assert hits(gw, "dora", run["id"]).status_code == 200  # an analyst again: readable
