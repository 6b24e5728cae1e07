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
from tests.attacks.test_insider_entry_replay import _source_sql
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


@pytest.mark.parametrize("end", ["rollback", "commit"])
def test_a_publication_while_a_save_is_in_flight_leaves_the_entry_serving(
    deployment: DemoGateway, end: str
) -> None:
    """carl publishes his draft while his save of it is in flight: the publication
    (a Core write, ``bind_written``) was written unbound and the published entry
    answered 423 to every analyst."""
    gw, table = deployment, f"rt19_publish_{end}"
    entry, headers = f"civil.{table}", gw.headers("carl")
    _source_sql(gw, f"DROP TABLE IF EXISTS {table}", f"CREATE TABLE {table} AS SELECT "
                "region_code, monthly_amount FROM dibao_recipients LIMIT 20")  # fmt: skip
    draft = {"source_id": "civil-db", "object_name": table, "dataset_id": entry,
             "title_en": "in flight", "allowed_purposes": ["supervision"]}  # fmt: skip
    assert gw.client.post("/api/v1/datasets", headers=headers, json=draft).status_code == 201
    regional = gw.client.patch(f"/api/v1/datasets/{entry}", headers=headers,
                               json={"region_field": "region_code"})  # fmt: skip
    assert regional.status_code == 200, regional.text
    raise_amount = DatasetPatch.model_validate({"fields": {"monthly_amount": {"level": "L3"}}})
    with gw.services.sessions() as first:
        first.get(Dataset, entry)
        catalog.update_dataset(session=first, dataset_id=entry, patch=raise_amount)
        bind_until_commit(gw.services.audit, first)
        published = gw.client.post(f"/api/v1/datasets/{entry}/publish", headers=headers)
        assert published.status_code == 409, published.text
        getattr(first, end)()
    assert gw.client.post(f"/api/v1/datasets/{entry}/publish", headers=headers).status_code == 200
    query = {"fields": ["region_code"], "purpose": "supervision", "case_ref": "JW-RT19", "limit": 1}
    resp = gw.query("alice", entry, query)
    assert resp.status_code == 200, resp.text
