"""Red team 19, steward: two saves of one entry at once leave it serving, not refused.

A steward's edit binds the entry's new state on the trail before its route commits
(``bind_until_commit``, 805b4c8). carl's second save, loaded while his first was in
flight (a double submit, two tabs, two civil stewards), found the entry's loaded state
no longer the newest the trail named, bound nothing, and wrote its row all the same
(200): the first then rolled back (its state bound back: a row no longer there) or lost
at its commit, and the dibao roll answered 423 entry_unsealed to every analyst, with no
edit able to bind it again. The second save now answers 409.
"""

from __future__ import annotations

from typing import Any

import pytest

from catalog import service as catalog
from catalog.models import Dataset
from catalog.schemas import DatasetPatch
from gateway.stewardship.row_trail import bind_until_commit
from tests.attacks.test_insider_entry_seals import DIBAO, ID_QUERY
from tests.gateway.demo_app import DemoGateway

RAISE = DatasetPatch.model_validate({"fields": {"household_size": {"level": "L3"}}})


def _patch(gw: DemoGateway, body: dict[str, Any]) -> Any:
    return gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"), json=body)


@pytest.mark.parametrize("end", ["rollback", "commit"])
def test_a_save_while_another_is_in_flight_leaves_the_entry_serving(
    deployment: DemoGateway, end: str
) -> None:
    gw = deployment
    assert gw.query("alice", DIBAO, ID_QUERY).status_code == 200
    with gw.services.sessions() as first:
        first.get(Dataset, DIBAO)
        catalog.update_dataset(session=first, dataset_id=DIBAO, patch=RAISE)
        bind_until_commit(gw.services.audit, first)  # bound; the route commits later
        second = _patch(gw, {"allowed_purposes": ["supervision", "audit"]})
        assert second.status_code == 409, second.text
        getattr(first, end)()
    resp = gw.query("alice", DIBAO, ID_QUERY)
    assert resp.status_code == 200, resp.text
    assert _patch(gw, {"fields": {"household_size": {"level": "L2"}}}).status_code == 200
    assert gw.query("alice", DIBAO, ID_QUERY).status_code == 200
