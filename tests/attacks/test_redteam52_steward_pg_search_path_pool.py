"""Red team 52, as civil's steward (carl) with civil's database administrator, and the
analyst (dora) a freeze is meant to stop: a view name that two connections of the
gateway's own pool resolve to two objects.

Rule (stop 38): while an entry of a system is frozen, before any entry of that system is
served the broker asks the source what its object reads now (``lineage_now``: an
``EXPLAIN`` through the process's pooled adapter) and refuses it when it reads a table of
the frozen entry (423).

Attack: the entry's object is named without a schema (no ``schema`` setting: the login's
``search_path`` finds it), and the pool keeps every connection it opened, each with the
``search_path`` its session started with. The administrator gives civil's login another
``search_path`` (``ALTER ROLE … IN DATABASE … SET search_path = shadow, public``: it
applies to new sessions only) and has ``shadow.team_view`` read the roll, while
``public.team_view`` reads a harmless table of the same columns. A connection opened
before that (held by one query a moment, a lock on the harmless table) and one opened
after it now sit in the pool; the pool hands them out in turn (first in, first out), so
the question (``EXPLAIN SELECT * FROM "team_view"``) is asked on the old session — the
harmless table — and the read is made on the new one: the roll. sam freezes the roll;
dora reads the frozen rows through the view (200), and nothing on record says the view
was ever the roll.

Expected: the frozen roll's rows never come back through the view. On the embedded
default and on PostgreSQL (the source is PostgreSQL on both).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.attacks.civil_entries import publish_civil_entry
from tests.attacks.frozen_roll import entry_frozen
from tests.attacks.test_steward_sources import allowing
from tests.conftest import PG_ADMIN, _pg_url, create_pg_database, drop_pg_database
from tests.gateway.demo_app import DemoGateway

__all__ = ["allowing"]  # a fixture, used by name
ROLL = [("430121199001011234", "Wang Fang", "430121"),
        ("430121198502023456", "Li Wei", "430121")]  # fmt: skip
DECOY = [("110101200001010011", "Test One", "430121")]
QUERY = {"purpose": "supervision", "case_ref": "JW-RT52-PATH",
         "fields": ["region_code", "name", "id_number"]}  # fmt: skip
VIEW = "SELECT id_number, name, region_code, 'civil'::text AS team FROM {}"


@pytest.fixture()
def civil_pg() -> Iterator[tuple[str, str, str]]:
    """civil's database (the roll, a harmless table, ``team_view`` in two schemas) and
    the login the gateway reads it as: (database, login, URL)."""
    name, _admin_url = create_pg_database("sluice_rt52_path")
    login = f"rt52_gw_{uuid.uuid4().hex[:8]}"
    try:
        _made(name, login)
        yield name, login, _pg_url(name).replace("postgres@", f"{login}@", 1)
    finally:
        drop_pg_database(name)
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP ROLE IF EXISTS {login}")
            admin.execute(f"DROP ROLE IF EXISTS {login}_as")


def _made(name: str, login: str) -> None:
    """The login (and a role it may take), the tables and the views, as the fixture says."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {login} LOGIN")
        admin.execute(f"CREATE ROLE {login}_as")
        admin.execute(f"GRANT {login}_as TO {login}")
    with psycopg.connect(_database(name), autocommit=True) as db:
        db.execute("CREATE TABLE roll (id_number text, name text, region_code text)")
        db.execute("CREATE TABLE decoy (id_number text, name text, region_code text)")
        db.cursor().executemany("INSERT INTO roll VALUES (%s, %s, %s)", ROLL)
        db.cursor().executemany("INSERT INTO decoy VALUES (%s, %s, %s)", DECOY)
        db.execute("CREATE SCHEMA shadow")
        db.execute(f"CREATE VIEW public.team_view AS {VIEW.format('public.decoy')}")
        db.execute(f"CREATE VIEW shadow.team_view AS {VIEW.format('public.roll')}")
        # a schema named as a role the login may take: ``"$user"`` in its sessions then
        db.execute(f"CREATE SCHEMA {login}_as")
        db.execute(f"CREATE VIEW {login}_as.team_view AS {VIEW.format('public.roll')}")
        db.execute(f"GRANT USAGE ON SCHEMA public, shadow, {login}_as TO {login}, {login}_as")
        db.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public, shadow, {login}_as "
                   f"TO {login}, {login}_as")  # fmt: skip


def _database(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


# what the administrator gives the login's new sessions: another ``search_path``, or
# another role to take (whose name ``"$user"`` then is)
DEFAULTS = {"search_path": "search_path = shadow, public", "role": "role = '{login}_as'"}


def _old_and_new_sessions(gw: DemoGateway, database: str, login: str, view: str,
                          roll: str, default: str) -> None:  # fmt: skip
    """The pool: a session opened before the login's new default, one after.
    The administrator locks the harmless table; one of dora's reads of the view waits
    on it, holding the old session, while her read of the roll opens a new one."""
    with psycopg.connect(_database(database)) as lock:
        lock.execute("LOCK TABLE decoy IN ACCESS EXCLUSIVE MODE")
        waiting = threading.Thread(target=lambda: gw.query("dora", view, QUERY), daemon=True)
        waiting.start()
        time.sleep(0.5)  # its read waits on the lock, in the old session
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"ALTER ROLE {login} IN DATABASE {database} "
                          f"SET {default.format(login=login)}")  # fmt: skip
        assert gw.query("dora", roll, QUERY).status_code == 200  # a new session
        lock.rollback()
    waiting.join(10)


@pytest.mark.parametrize("default", sorted(DEFAULTS))
def test_a_view_name_two_pooled_sessions_resolve_apart_does_not_serve_the_frozen_roll(
    allowing: DemoGateway, civil_pg: tuple[str, str, str], default: str
) -> None:
    gw = allowing
    database, login, url = civil_pg
    tag = uuid.uuid4().hex[:8]
    source = f"civil-pg-rt52-{tag}"
    created = gw.client.post("/api/v1/sources", headers=gw.headers("carl"), json={
        "id": source, "department": "civil", "kind": "postgresql",
        "display_name": source, "settings": {"url": url}})  # fmt: skip
    assert created.status_code in (200, 201), created.text
    roll, view = f"civil.rt52_roll_{tag}", f"civil.rt52_view_{tag}"
    publish_civil_entry(gw, source, "roll", roll, hashed=True)
    # drafted on a fresh session: the harmless table
    publish_civil_entry(gw, source, "team_view", view, hashed=True)
    assert gw.query("dora", view, QUERY).status_code == 200  # the pool's first session
    _old_and_new_sessions(gw, database, login, view, roll, DEFAULTS[default])
    with entry_frozen(gw, roll):
        reads = [gw.query("dora", view, QUERY) for _ in range(4)]
    # the roll has two rows, the harmless table one (names are masked, numbers may be)
    leaked = [r.json()["rows"] for r in reads
              if r.status_code == 200 and len(r.json()["rows"]) == len(ROLL)]  # fmt: skip
    assert not leaked, (
        f"the frozen roll read through the view during the freeze: {leaked[0]} "
        f"(statuses {[r.status_code for r in reads]})"
    )
