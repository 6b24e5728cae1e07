"""A second entry over civil's dibao roll, published by its steward, and a model that
matches it with finance's payroll: the set-up of the attacks on stored comparison hits
and runs over a copy of an entry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.gateway.demo_app import DemoGateway


def publish_dibao_copy(gw: DemoGateway, entry: str, *, source: str = "civil-db") -> None:
    """carl drafts ``entry`` over ``source``'s ``dibao_recipients``, gives it its region
    field and publishes it."""
    headers = gw.headers("carl")
    draft = gw.client.post("/api/v1/datasets", headers=headers, json={
        "source_id": source, "object_name": "dibao_recipients", "dataset_id": entry,
        "title_en": "dibao copy", "allowed_purposes": ["supervision"]})  # fmt: skip
    assert draft.status_code == 201, draft.text
    region = gw.client.patch(f"/api/v1/datasets/{entry}", headers=headers,
                             json={"region_field": "region_code"})  # fmt: skip
    assert region.status_code == 200, region.text
    published = gw.client.post(f"/api/v1/datasets/{entry}/publish", headers=headers)
    assert published.status_code == 200, published.text


def payroll_model(model_id: str, entry: str, output: Sequence[str]) -> dict[str, Any]:
    """A model matching ``finance.payroll`` with ``entry`` on the ID number."""
    return {
        "id": model_id, "name": {"zh": "副本", "en": "copy"},
        "sides": [{"alias": "p", "dataset": "finance.payroll"},
                  {"alias": "d", "dataset": entry}],
        "joins": [{"left": "p", "left_key": "id_number", "right": "d",
                   "right_key": "id_number"}],
        "output": list(output),
    }  # fmt: skip
