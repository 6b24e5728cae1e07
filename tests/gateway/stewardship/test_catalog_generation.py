"""The broker caches entries and grants per catalog generation: any change — made by the
API, by another process or by hand in SQL — must govern the very next query."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy.exc import DBAPIError

from gateway.enforcement.query.entries import GenerationCache
from tests.conftest import drop_pg_database
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.migrated import create_migrated_pg_database

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "GEN-1"}


@pytest.fixture(params=["sqlite", "postgres"])
def gw(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoGateway]:
    """A demo gateway whose catalog lives in SQLite, then in PostgreSQL."""
    if request.param == "sqlite":
        with demo_gateway(tmp_path / "home") as gw:
            yield gw
        return
    name, url = create_migrated_pg_database("sluice_gen")
    try:
        with demo_gateway(tmp_path / "home", database_url=url) as gw:
            yield gw
    finally:
        drop_pg_database(name)


def _columns(gw: DemoGateway, body: dict[str, object]) -> dict[str, dict[str, object]]:
    resp = gw.query("alice", DIBAO, body)
    assert resp.status_code == 200, resp.text
    return {c["name"]: c for c in orjson.loads(resp.content)["columns"]}


def test_a_field_raised_by_hand_in_sql_is_refused_on_the_next_query(gw: DemoGateway) -> None:
    body = {"fields": ["phone", "region_code"], "limit": 3, **CASE}
    assert _columns(gw, body)["phone"]["action"] == "mask"  # cached now
    gw.sql("UPDATE fields SET level = 'L4' WHERE dataset_id = :d AND name = 'phone'", d=DIBAO)
    # hand-edited, the field no longer verifies (catalog.entry_seals): the whole entry
    # is refused
    refused = gw.query("alice", DIBAO, body)
    assert refused.status_code == 423, refused.text
    assert refused.json()["code"] == "entry_unsealed"


def test_a_field_raised_by_another_process_is_refused_on_the_next_query(
    gw: DemoGateway,
) -> None:
    body = {"fields": ["phone", "region_code"], "limit": 3, **CASE}
    assert _columns(gw, body)["phone"]["action"] == "mask"  # cached now
    gw.edit_entry(DIBAO, "phone", level="L4")  # through the ORM: sealed
    refused = gw.query("alice", DIBAO, body)
    assert refused.status_code == 403, refused.text
    assert "phone" in refused.json()["message"]


def test_an_entry_withdrawn_by_hand_is_gone_on_the_next_query(gw: DemoGateway) -> None:
    body = {"fields": ["region_code"], "limit": 1, **CASE}
    assert gw.query("alice", DIBAO, body).status_code == 200
    gw.sql("UPDATE datasets SET status = 'draft' WHERE id = :d", d=DIBAO)
    assert gw.query("alice", DIBAO, body).status_code == 404


def test_a_grant_revoked_by_hand_stops_unmasking_on_the_next_query(gw: DemoGateway) -> None:
    """A grant row written as a gateway writes it (sealed: catalog.grant_seals), then
    revoked in SQL: each change governs the next query."""
    body = {"fields": ["phone", "region_code"], "limit": 2, **CASE}
    assert _columns(gw, body)["phone"]["action"] == "mask"
    now = datetime.now(UTC)
    gw.write_grant("ar_gen", requester="alice", dataset_id=DIBAO, department="civil",
                   fields=["phone"], purpose="supervision", case_ref="GEN-1",
                   justification="test", days=1, status="approved", required_approvals=1,
                   approvals=[{"by": "carl"}], approved_at=now,
                   expires_at=now + timedelta(days=1))  # fmt: skip
    assert _columns(gw, body)["phone"]["action"] == "allow"
    gw.sql("UPDATE access_requests SET status = 'revoked' WHERE id = 'ar_gen'")
    assert _columns(gw, body)["phone"]["action"] == "mask"


def test_the_generation_only_grows(gw: DemoGateway) -> None:
    """Set back, the counter could make a cache take an old entry for a current one."""
    for statement in (
        "UPDATE catalog_generation SET value = value - 1",
        "UPDATE catalog_generation SET value = value",
        "DELETE FROM catalog_generation",
    ):
        with pytest.raises(DBAPIError, match="only grows"):
            gw.sql(statement)
    gw.sql("UPDATE catalog_generation SET value = value + 1")  # harmless: forces reloads


def test_a_value_loaded_before_a_change_is_never_served_after_it() -> None:
    """The race: a load that started under generation 5 finishes after generation 6 is
    visible. Tagged 5, it is not served to a request that read 6."""
    cache: GenerationCache[str, str] = GenerationCache(maxsize=4)
    assert cache.get(5, "d", lambda: "old") == "old"
    assert cache.get(5, "d", lambda: "never loaded") == "old"
    assert cache.get(6, "d", lambda: "new") == "new"
    assert cache.get(5, "d", lambda: "old again") == "old again"  # a late, slow reader
    assert cache.get(6, "d", lambda: "new, reloaded") == "new, reloaded"


def test_the_cache_is_bounded() -> None:
    cache: GenerationCache[int, int] = GenerationCache(maxsize=3)
    for i in range(10):
        cache.get(1, i, lambda i=i: i)  # type: ignore[misc]
    assert len(cache._items) <= 3
