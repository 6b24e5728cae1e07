"""Red team 2, as an analyst: a comparison run's stored hit list is data released from
its entries each time it is read, so reading it must follow the entries and the reader
*now* (ATTACKS.md: freshness), not as they were when the run finished.

- An officer freezes an entry ("no queries or comparisons"): the owner could still
  download the hits of a run done before, the entry's released columns included, as
  often as they liked.
- The owner's access changes (a field they compared is raised above their clearance):
  the stored hits were still handed out, though a new run is refused.

Both on the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.gateway.comparison_env import hits, run_to_end
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
DIBAO = "civil.dibao_recipients"


@pytest.fixture
def done_run(deployment: DemoGateway) -> Iterator[dict[str, Any]]:
    view = run_to_end(deployment, "dora", MODEL)
    assert view["status"] == "done", view
    assert hits(deployment, "dora", view["id"]).status_code == 200
    yield view


def test_hits_of_a_frozen_entry_are_not_released(
    deployment: DemoGateway, done_run: dict[str, Any]
) -> None:
    gw = deployment
    freeze = gw.client.post(f"/api/v1/datasets/{DIBAO}/freeze", json={"reason": "leak"},
                            headers=gw.headers("sam"))  # fmt: skip
    assert freeze.status_code == 200, freeze.text
    try:
        for fmt in ("json", "csv"):
            resp = hits(gw, "dora", done_run["id"], fmt)
            assert resp.status_code == 423, resp.text
        # the officer who froze it still reviews the run
        assert hits(gw, "sam", done_run["id"]).status_code == 200
    finally:  # lifted as a freeze is: by another admin (the trail names the freeze)
        lifted = gw.client.post(f"/api/v1/datasets/{DIBAO}/unfreeze", json={"reason": "done"},
                                headers=gw.headers("root"))  # fmt: skip
        assert lifted.status_code == 200, lifted.text
    assert hits(gw, "dora", done_run["id"]).status_code == 200


def test_hits_follow_the_owners_access_now(
    deployment: DemoGateway, done_run: dict[str, Any]
) -> None:
    gw = deployment
    gw.edit_entry(DIBAO, "id_number", level="L4")
    try:
        resp = hits(gw, "dora", done_run["id"])
        assert resp.status_code == 403, resp.text
        assert "id_number" in resp.text
    finally:
        gw.edit_entry(DIBAO, "id_number", level="L3")
    assert hits(gw, "dora", done_run["id"]).status_code == 200
