"""The deployments the attacks run against, opened one way for every fixture.

``sqlite`` is the embedded default a newcomer gets (SQLite catalog and audit store, the
demo departments' SQLite files); ``postgres`` puts the catalog and the audit store in a
fresh database on the machine's PostgreSQL server (created here, migrated and seeded by
the demo's setup as ``sluice demo`` does it, dropped afterwards whatever the test did).
A fixture parametrised over ``KINDS`` runs each attack on both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from audit.search import EventFilter, list_events
from tests.conftest import create_pg_database, drop_pg_database_later
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.migrated import create_migrated_pg_database

KINDS = ["sqlite", "postgres"]


@contextmanager
def open_deployment(
    kind: str, home: Path, *, db_prefix: str = "sluice_attack", **settings: Any
) -> Iterator[DemoGateway]:
    """A demo gateway in ``home`` on the ``kind`` deployment, with ``settings`` (the
    gateway's settings, as ``load_settings`` takes them); ``db_prefix`` names the
    PostgreSQL database (a random suffix is added), so a leftover says whose it was."""
    if kind not in KINDS:
        raise ValueError(f"a deployment is one of {KINDS}, not {kind!r}")
    if kind == "sqlite":
        with demo_gateway(home, **settings) as gw:
            yield gw
        return
    name, url = create_migrated_pg_database(db_prefix)
    try:
        with demo_gateway(home, database_url=url, **settings) as gw:
            yield gw
    finally:
        drop_pg_database_later(name)


@contextmanager
def catalog_spelled(url_template: str, home: Path, *, db_prefix: str) -> Iterator[DemoGateway]:
    """A demo gateway whose PostgreSQL catalog is reached by ``url_template`` (``{db}``:
    the database), as an operator may spell it; stewards may register sources on the
    loopback server (where the catalog is)."""
    name, _tcp = create_pg_database(db_prefix)
    try:
        with demo_gateway(home, database_url=url_template.format(db=name),
                          source_allow_hosts=["127.0.0.1", "localhost"]) as gw:  # fmt: skip
            yield gw
    finally:
        drop_pg_database_later(name)


def assert_catalog_refused_as_source(gw: DemoGateway) -> None:
    """A steward naming the catalog's database by any loopback address is refused."""
    database = make_url(gw.settings.resolved_database_url).database
    for host in ("127.0.0.1", "localhost", "127.0.0.1:5432"):
        body = {
            "id": f"own-{uuid.uuid4().hex[:8]}", "department": "finance", "kind": "postgresql",
            "display_name": "payroll replica",
            "settings": {"url": f"postgresql://postgres@{host}/{database}"},
        }  # fmt: skip
        resp = gw.client.post("/api/v1/sources", json=body, headers=gw.headers("fiona"))
        assert resp.status_code == 403, (host, resp.status_code, resp.text)
        assert "gateway's own catalog" in resp.json()["message"], resp.text


@contextmanager
def rate_limited(kind: str, tmp_path_factory: Any, name: str, *, rate: int, window_s: int
                 ) -> Iterator[DemoGateway]:  # fmt: skip
    """A ``kind`` deployment whose ``SLUICE_RATE_LIMIT`` is ``rate`` per ``window_s``
    seconds (the floods of red teams 22 and 31 wait for its window to turn)."""
    home: Path = tmp_path_factory.mktemp(f"{name}-{kind}")
    with open_deployment(kind, home, db_prefix=name.replace("-", "_"),
                         rate_limit=f"{rate} per {window_s} seconds") as gw:  # fmt: skip
        yield gw


def rate_limited_fixture(name: str, *, rate: int, window_s: int) -> Any:
    """A module-scoped ``gw`` fixture: ``rate_limited`` on each deployment kind in turn
    (the floods of red team 22 and the twenty-seventh pass, a module each)."""

    @pytest.fixture(scope="module", params=KINDS)
    def gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[DemoGateway]:  # fmt: skip
        with rate_limited(request.param, tmp_path_factory, name, rate=rate,
                          window_s=window_s) as deployed:  # fmt: skip
            yield deployed

    return gw


def case_refs_fixture(name: str, cases: list[str]) -> Any:
    """A module-scoped ``gw`` fixture on each deployment kind in turn in which alice has
    queried the civil-affairs roll once under each of ``cases`` (a hostile case
    reference on the trail, for the pages and terminals that show it: red teams 61, 62)."""

    @pytest.fixture(scope="module", params=KINDS)
    def gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[DemoGateway]:  # fmt: skip
        home = tmp_path_factory.mktemp(f"{name}-{request.param}")
        with open_deployment(request.param, home, db_prefix=f"sluice_{name}") as gateway:
            for case in cases:
                body = {"purpose": "supervision", "case_ref": case, "limit": 1}
                resp = gateway.query("alice", "civil.dibao_recipients", body)
                assert resp.status_code == 200, (ascii(case), resp.text)
            yield gateway

    return gw


def fresh_rate_window(gw: DemoGateway) -> None:
    """Start the next flood in a window of its own: the limiter's counters forgotten (in
    process, or the deployment's Redis keys), as waiting a whole window for them to turn
    would leave them, without the wait (5 s a flood test, 16 tests)."""
    gw.services.limiter.reset()


def recorded_by(gw: DemoGateway, type_: str, actor: str) -> list[dict[str, Any]]:
    """The trail's ``type_`` events of ``actor``, oldest first (what a flood left)."""
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type=type_, actor=actor), limit=1000,
                       order="asc")  # fmt: skip
    return list(page["items"])
