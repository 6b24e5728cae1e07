"""Red team 8 (steward): a field patch naming ``level``, ``pi_category`` or
``description`` as null. Those columns cannot be empty: the body passed validation,
``dataset.updated`` went on record, and the catalog's NOT NULL refused the write — a
500 through the API after an event saying the entry changed. A null is now refused as
bad input (400, on record), nothing changes, and omitting the attribute still leaves it
unchanged; ``mask_override`` (nullable: back to the category's default) may be null."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.demo_app import DemoGateway

DATASET = "civil.dibao_recipients"


@pytest.fixture(scope="module", params=KINDS)
def gw(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoGateway]:
    home: Path = tmp_path_factory.mktemp(f"rt8-null-{request.param}")
    with open_deployment(request.param, home, db_prefix="sluice_rt8_null") as deployment:
        yield deployment


def _field(gw: DemoGateway, name: str) -> dict[str, object]:
    resp = gw.client.get(f"/api/v1/catalog/{DATASET}", headers=gw.headers("carl"))
    assert resp.status_code == 200, resp.text
    return next(f for f in resp.json()["fields"] if f["name"] == name)


@pytest.mark.parametrize("attr", ["level", "pi_category", "description"])
def test_a_null_classification_is_bad_input_and_changes_nothing(gw: DemoGateway, attr: str) -> None:
    before = _field(gw, "id_number")
    resp = gw.client.patch(f"/api/v1/datasets/{DATASET}", headers=gw.headers("carl"),
                           json={"fields": {"id_number": {attr: None}}})  # fmt: skip
    assert resp.status_code == 400, resp.text
    assert attr in resp.text
    assert _field(gw, "id_number") == before
    trail = gw.client.get("/api/v1/audit/events", headers=gw.headers("sam"),
                          params={"type": "dataset.updated", "limit": 50})  # fmt: skip
    assert trail.status_code == 200, trail.text
    assert not any(
        f"fields.id_number.{attr}" in str(e.get("details")) for e in trail.json()["items"]
    ), "a refused change is on record as made"


def test_a_null_mask_override_still_clears_it(gw: DemoGateway) -> None:
    resp = gw.client.patch(f"/api/v1/datasets/{DATASET}", headers=gw.headers("carl"),
                           json={"fields": {"phone": {"mask_override": None}}})  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert _field(gw, "phone")["mask_override"] is None
