"""A civil entry published as it could have been before the catalog reserved the
gateway's own column names (``catalog.reserved_names``): what the read paths must still
refuse, for entries published earlier."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import pytest

from catalog import drift
from tests.gateway.demo_app import DemoGateway


def civil_table(gw: DemoGateway, table: str, columns: Sequence[str],
                rows: Sequence[tuple[Any, ...]]) -> None:  # fmt: skip
    """Civil's source database holds ``table`` (text columns) with ``rows``, and the
    gateway has introspected it."""
    db = sqlite3.connect(gw.settings.demo_data_dir / "civil.db")
    try:
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(f'{c} TEXT' for c in columns)})"
        )
        db.execute(f"DELETE FROM {table}")
        db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' for _ in columns)})", rows)
        db.commit()
    finally:
        db.close()
    resp = gw.client.post("/api/v1/sources/civil-db/introspect", headers=gw.headers("carl"))
    assert resp.status_code == 200, resp.text[:300]


def civil_draft(table: str, entry: str, title: str) -> dict[str, Any]:
    """Carl's draft of ``table`` as ``entry``."""
    return {"source_id": "civil-db", "object_name": table, "dataset_id": entry,
            "title_en": title, "allowed_purposes": ["supervision"]}  # fmt: skip


def publish_before_the_rule(gw: DemoGateway, monkeypatch: pytest.MonkeyPatch,
                            draft: dict[str, Any], columns: Sequence[str]) -> None:  # fmt: skip
    """``draft`` drafted with the reserved-name rule lifted, every column L1 in clear,
    ``region_code`` its region field, and published."""
    h, entry = gw.headers("carl"), draft["dataset_id"]
    with monkeypatch.context() as before_the_rule:
        before_the_rule.setattr(drift, "is_reserved", lambda name: False)
        resp = gw.client.post("/api/v1/datasets", headers=h, json=draft)
    assert resp.status_code == 201, resp.text[:300]
    clear = {"level": "L1", "pi_category": "none"}
    resp = gw.client.patch(f"/api/v1/datasets/{entry}", headers=h, json={
        "region_field": "region_code", "fields": {c: clear for c in columns}})  # fmt: skip
    assert resp.status_code == 200, resp.text[:300]
    resp = gw.client.post(f"/api/v1/datasets/{entry}/publish", headers=h)
    assert resp.status_code == 200, resp.text[:300]
