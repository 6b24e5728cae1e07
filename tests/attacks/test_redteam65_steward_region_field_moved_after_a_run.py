"""Red team 65, as a steward who moves an entry's jurisdiction to another column after
an analyst's comparison run stored its hits (the stored sibling of the region-field
move in flight, ``test_redteam65_steward_region_field_moved_mid_stream``).

A stored hit list is released again at every read (``run_service.check_release``): the
owner's decision is taken again and every region the run read must still be within her
jurisdiction (``scheduled.check_within``, red team 3). But a side records only the
prefixes it was read under, not the column they were matched on: once carl (civil's
steward) named another column as the dibao roll's region field, alice's stored hits —
rows matched on the old column — were still handed to her whole, though by the entry as
classified now none of them is in her jurisdiction (a new run reads none).

Attack: alice (``430121``) runs ``demo.payroll_on_dibao`` (hits in her county); carl
sets the roll's region field to ``address`` (``PATCH /api/v1/datasets/{id}``); alice
reads the run's hits (JSON and CSV).

Expected: 403, as for a narrowed jurisdiction, until the region field is the one the run
read under again. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.scheduled_runs import gw
from tests.gateway.comparison_env import hits, run_to_end
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
ROLL = "civil.dibao_recipients"
__all__ = ["gw"]  # the shared fixture


def _region_field(gw: DemoGateway, name: str) -> None:
    resp = gw.client.patch(f"/api/v1/datasets/{ROLL}", json={"region_field": name},
                           headers=gw.headers("carl"))  # fmt: skip
    assert resp.status_code == 200, resp.text


def test_stored_hits_are_refused_once_the_region_field_moved(gw: DemoGateway) -> None:
    view = run_to_end(gw, "alice", MODEL)
    assert view["status"] == "done" and view["hits"] > 0, view
    assert hits(gw, "alice", view["id"]).status_code == 200
    _region_field(gw, "address")
    for fmt in ("json", "csv"):
        resp = hits(gw, "alice", view["id"], fmt)
        assert resp.status_code == 403, (fmt, resp.status_code, resp.text[:300])
    again = run_to_end(gw, "alice", MODEL)  # by the roll as classified now: none of hers
    assert again["status"] == "done" and again["hits"] == 0, again
    _region_field(gw, "region_code")
    assert hits(gw, "alice", view["id"]).status_code == 200
