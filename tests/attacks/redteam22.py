"""Red team 22's shared steps: a department's source registered by its steward and one
entry over it published, as a steward does it through the API."""

from __future__ import annotations

from typing import Any

from tests.gateway.demo_app import DemoGateway


def publish_over(
    gw: DemoGateway, steward: str, source: dict[str, Any], object_name: str, dataset_id: str
) -> None:
    """``source`` registered by ``steward``, an entry ``dataset_id`` over its
    ``object_name`` drafted and published (for the purpose ``supervision``)."""
    headers = gw.headers(steward)
    resp = gw.client.post("/api/v1/sources", headers=headers, json=source)
    assert resp.status_code == 201, resp.text
    resp = gw.client.post("/api/v1/datasets", headers=headers, json={
        "source_id": source["id"], "object_name": object_name, "dataset_id": dataset_id,
        "title_en": object_name, "allowed_purposes": ["supervision"]})  # fmt: skip
    assert resp.status_code == 201, resp.text
    resp = gw.client.post(f"/api/v1/datasets/{dataset_id}/publish", headers=headers)
    assert resp.status_code == 200, resp.text
