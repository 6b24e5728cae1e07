"""End-to-end gateway fixtures over real demo data (SQLite, PostgreSQL, MariaDB)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database_later,
)
from tests.gateway.demo_app import DemoGateway, demo_gateway


@pytest.fixture(scope="module")
def gw_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    with demo_gateway(tmp_path_factory.mktemp("gw-sqlite")) as gw:
        yield gw


@pytest.fixture(scope="module")
def gw_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    name, url = create_pg_database("sluice_demo")
    try:
        with demo_gateway(tmp_path_factory.mktemp("gw-pg"), backend_url=url) as gw:
            yield gw
    finally:
        drop_pg_database_later(name)


@pytest.fixture(scope="module")
def gw_mysql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    name, url = create_mysql_database("sluice_demo")
    try:
        with demo_gateway(tmp_path_factory.mktemp("gw-my"), backend_url=url) as gw:
            yield gw
    finally:
        drop_mysql_database(name)


@pytest.fixture(scope="module", params=["postgres", "mysql"])
def gw(request: pytest.FixtureRequest) -> DemoGateway:
    """The gateway over the real PostgreSQL, then over the real MariaDB, demo data."""
    return request.getfixturevalue(f"gw_{request.param}")


def fresh_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home
