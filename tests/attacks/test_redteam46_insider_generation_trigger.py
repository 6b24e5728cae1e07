"""Red team 46, as a database insider with the owner's rights: keep the caches stale.

Rule (DESIGN.md, "identity is read fresh"): a suspension, a freeze, a role taken
govern the very next request, whatever token the caller holds. Each process caches
identities and catalog entries under the catalog generation, one counter that
triggers on ``users``, ``casbin_rule``, ``datasets``, ``fields``, ``sources`` and
``access_requests`` bump in the same transaction as any change (migrations 0006, 0008).

Attack: the insider drops the trigger on ``users`` (on PostgreSQL ``ALTER TABLE users
DISABLE TRIGGER`` does as well) — nothing in any row changes, no seal breaks, no event
is written. Then the officer suspends alice through the API (200, ``suspended`` on the
trail), or freezes the entry she reads: her next requests were served as before, the
identity and the entry cached under a generation nothing moves any more.

Expected: a change the gateway makes moves the generation itself, trigger or not. On the
embedded default and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
QUERY = {"purpose": "supervision", "case_ref": "JW-RT46-GEN", "fields": ["region_code"],
         "limit": 1}  # fmt: skip
WHY = {"reason": "incident IR-46b"}


def _triggers(gw: DemoGateway, table: str) -> list[tuple[str, str]]:
    """(name, SQL to re-create it) of ``table``'s generation triggers."""
    with gw.services.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            rows = conn.execute(text(
                "SELECT tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relname = :t "
                "AND tgname LIKE '%bumps_generation'"), {"t": table}).all()  # fmt: skip
        else:
            rows = conn.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name = :t AND name LIKE '%bumps_generation'"
                ),
                {"t": table},
            ).all()
    assert rows, table
    return [(str(name), str(sql)) for name, sql in rows]


@pytest.fixture
def dropped(deployment: DemoGateway) -> Iterator[DemoGateway]:
    gw = deployment
    kept = {t: _triggers(gw, t) for t in ("users", "datasets")}
    with gw.services.engine.begin() as conn:
        for table, triggers in kept.items():
            for name, _sql in triggers:
                on = f" ON {table}" if conn.dialect.name == "postgresql" else ""
                conn.execute(text(f"DROP TRIGGER {name}{on}"))
    yield gw
    with gw.services.engine.begin() as conn:
        for triggers in kept.values():
            for _name, sql in triggers:
                conn.execute(text(sql))


def _post(gw: DemoGateway, who: str, path: str) -> Any:
    return gw.client.post(f"/api/v1{path}", json=WHY, headers=gw.headers(who))


def test_a_suspension_governs_the_next_request_without_the_trigger(dropped: DemoGateway) -> None:
    gw = dropped
    alice = gw.headers("alice")
    assert gw.client.get("/api/v1/access-requests", headers=alice).status_code == 200  # cached
    assert _post(gw, "sam", "/users/alice/suspend").status_code == 200
    try:
        assert gw.client.get("/api/v1/access-requests", headers=alice).status_code == 403
        assert gw.query("alice", DIBAO, QUERY).status_code == 403
    finally:
        assert _post(gw, "root", "/users/alice/unsuspend").status_code == 200
    assert gw.client.get("/api/v1/access-requests", headers=alice).status_code == 200


def test_a_freeze_governs_the_next_query_without_the_trigger(dropped: DemoGateway) -> None:
    gw = dropped
    assert gw.query("dora", DIBAO, QUERY).status_code == 200  # the entry cached
    assert _post(gw, "sam", f"/datasets/{DIBAO}/freeze").status_code == 200
    try:
        frozen = gw.query("dora", DIBAO, QUERY)
        assert frozen.status_code == 423, frozen.text[:300]
    finally:
        assert _post(gw, "root", f"/datasets/{DIBAO}/unfreeze").status_code == 200
    assert gw.query("dora", DIBAO, QUERY).status_code == 200
