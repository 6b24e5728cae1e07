"""Shared step of the freeze attacks on a source of civil's own (red teams 43, 50, 52):
carl's entry over an object, its region field set, published."""

from __future__ import annotations

from tests.attacks.test_redteam37_analyst_date_shift_codebook import _ok
from tests.attacks.test_stop34_analyst_grant_token_codebook import hash_ids
from tests.gateway.demo_app import DemoGateway


def publish_civil_entry(
    gw: DemoGateway, source: str, obj: str, entry: str, *, hashed: bool
) -> None:
    """carl's entry ``entry`` over ``obj`` of ``source`` (region field ``region_code``),
    its ID numbers masked with ``hash`` when ``hashed``, published."""
    headers = gw.headers("carl")
    _ok(gw.client.post("/api/v1/datasets", headers=headers, json={
        "source_id": source, "object_name": obj, "dataset_id": entry,
        "title_en": entry, "allowed_purposes": ["supervision", "audit"]}))  # fmt: skip
    _ok(gw.client.patch(f"/api/v1/datasets/{entry}", headers=headers,
                        json={"region_field": "region_code"}))  # fmt: skip
    if hashed:
        hash_ids(gw, "carl", entry)
    _ok(gw.client.post(f"/api/v1/datasets/{entry}/publish", headers=headers))
