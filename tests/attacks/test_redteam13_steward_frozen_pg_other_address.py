"""Red team 13, as a steward: a frozen PostgreSQL table served again through a second
registration of the same database by another address of its server.

Rule: a freeze stops the data, whichever entry reads it (red team 10): while an entry
is frozen, no other entry over the same table of the same system is published (409),
and one published before the freeze is refused (423), until an admin lifts it.

Attack: civil's database is registered at ``127.0.0.1:5432`` and its ``people`` table
published and frozen. Carl registers the same database a second time through the
server's LAN address (a relay here, as a port forward, a pooler or a second DNS name
would be — allowed: it is civil's own database) and drafts ``people`` on it. Frozen
entries were compared by ``EffectiveTarget.same_system``, i.e. by addresses, which red
teams 7 and 8 showed are no identity of a PostgreSQL server: the copy was published
(200) and served the frozen rows; a copy published before the freeze kept answering
(200). The gateway knows both sources reach one server and database: it keeps the
identity each connection reached (``sources.server_identity``).

Expected: two PostgreSQL sources holding the same server identity are one system for a
freeze: 409 and 423.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.attacks.relay import gateway_behind_relay
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.demo_app import DemoGateway
from tests.migrated import create_migrated_pg_database

WHY = {"reason": "incident IR-13: bulk pull under investigation"}
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-013", "fields": ["region_code"],
         "limit": 1}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def setup(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[DemoGateway, str, list[str]]]:
    """A gateway (embedded or PostgreSQL catalog) behind a LAN relay to 127.0.0.1:5432,
    civil's database with a ``people`` table, and the two URLs that reach it."""
    catalog_name, catalog_url = (
        create_migrated_pg_database("sluice_rt13_cat")
        if request.param == "postgresql"
        else ("", None)
    )
    civil_db, civil_url = create_pg_database("sluice_rt13_civil")
    engine = create_engine(civil_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE people (id integer PRIMARY KEY, region_code text)"))
        conn.execute(text("INSERT INTO people VALUES (1, '430121'), (2, '430121')"))
    engine.dispose()
    try:
        with gateway_behind_relay(tmp_path, catalog_url) as (gw, address, port):
            urls = [f"postgresql://postgres@127.0.0.1:5432/{civil_db}",
                    f"postgresql://postgres@{address}:{port}/{civil_db}"]  # fmt: skip
            yield gw, civil_db, urls
    finally:
        for name in (civil_db, catalog_name):
            if name:
                drop_pg_database(name)


def _post(gw: DemoGateway, who: str, path: str, body: dict[str, Any]) -> Any:
    return gw.client.post(f"/api/v1{path}", json=body, headers=gw.headers(who))


def _entry(gw: DemoGateway, url: str) -> str:
    """A civil source at ``url`` and a draft of its ``people`` table."""
    suffix = uuid.uuid4().hex[:8]
    source_id, entry = f"civil-pg-{suffix}", f"civil.people_{suffix}"
    registered = _post(gw, "carl", "/sources", {
        "id": source_id, "department": "civil", "kind": "postgresql",
        "display_name": "civil roll", "settings": {"url": url}})  # fmt: skip
    assert registered.status_code == 201, registered.text
    draft = _post(gw, "carl", "/datasets", {
        "source_id": source_id, "object_name": "people", "dataset_id": entry,
        "title_en": entry, "allowed_purposes": ["supervision"]})  # fmt: skip
    assert draft.status_code == 201, draft.text
    return entry


def test_a_copy_through_another_address_is_held_by_the_freeze(
    setup: tuple[DemoGateway, str, list[str]],
) -> None:
    gw, _db, (local, relayed) = setup
    frozen = _entry(gw, local)
    before = _entry(gw, relayed)
    for entry in (frozen, before):
        assert _post(gw, "carl", f"/datasets/{entry}/publish", {}).status_code == 200
    assert gw.query("dora", before, QUERY).status_code == 200
    after = _entry(gw, relayed)
    assert _post(gw, "sam", f"/datasets/{frozen}/freeze", WHY).status_code == 200
    try:
        published = _post(gw, "carl", f"/datasets/{after}/publish", {})
        assert published.status_code == 409, published.text
        read = gw.query("dora", before, QUERY)
        assert read.status_code == 423, read.text
    finally:
        lifted = _post(gw, "root", f"/datasets/{frozen}/unfreeze", WHY)
        assert lifted.status_code == 200, lifted.text
    assert gw.query("dora", before, QUERY).status_code == 200
